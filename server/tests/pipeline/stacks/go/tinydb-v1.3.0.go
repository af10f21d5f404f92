// Package tinydb is a tiny database client.
package tinydb

// Version 1.3.0 adds a comment block
// that moves every line down.
//

import "fmt"

// Query runs a query.
func Query(q string) string {
	return run(q)
}

func run(q string) string {
	if q == "" {
		panic(fmt.Sprintf("tinydb: empty query"))
	}
	return q
}
