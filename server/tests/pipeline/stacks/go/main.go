package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"

	"example.com/tinydb"
)

func stockHandler(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if rec := recover(); rec != nil {
			fmt.Fprintf(os.Stderr, "RECOVERED %v\n%s", rec, debug.Stack())
			w.WriteHeader(500)
		}
	}()
	io.WriteString(w, tinydb.Query(r.URL.Query().Get("q")))
}

func main() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go http.Serve(ln, http.HandlerFunc(stockHandler))
	resp, err := http.Get("http://" + ln.Addr().String() + "/stock")
	if err == nil {
		resp.Body.Close()
	}
	if len(os.Args) > 1 {
		tinydb.Query("")
	}
}
