/* backlight.export._speedups: the spans of Backlight's own scope, framed for an OTLP
 * ScopeSpans message, with the request-span fast path of backlight.export.request in C.
 *
 * Optional. backlight.export.scope loads it when it was built and falls back to the
 * Python functions it mirrors (the reference: the tests hold both to the same bytes).
 * Everything this file does not handle itself (a span the app wrote to, a traceparent
 * or link header outside the canonical forms, a cache miss) is handed to those same
 * Python functions, so the caches and the general encoder stay in one place.
 *
 * Runs on the export thread, with the GIL held throughout.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* ---- set once by configure() ------------------------------------------------------- */

static PyObject *request_span_type; /* backlight.request_span.RequestSpan */
static PyObject *span_record_type;  /* backlight.span.SpanRecord */
static PyObject *encode_request;    /* export.request.request_span (the Python reference) */
static PyObject *encode_lean;       /* export.lean.lean_span */
static PyObject *own_ids;           /* export.request._own_ids(span, traceparent) */
static PyObject *endpoint_fn;       /* export.request._endpoint(span, attributes) */
static PyObject *path_fn;           /* export.request._path(path) */
static PyObject *link_pairs_fn;     /* export.request._link_pairs(session, request) */
static PyObject *other_pairs_fn;    /* export.request.other_link_pairs(span) */
static PyObject *endpoints;         /* dict: endpoint key -> (route, encoded) */
static PyObject *paths;             /* dict: path -> encoded pair */
static PyObject *sessions;          /* dict: session bytes -> encoded pair */
static PyObject *request_prefixes;  /* tuple: value size -> encoded prefix */
static PyObject *middleware_keys;   /* frozenset of the attribute keys the middleware sets */
static PyObject *key_method, *key_path, *key_status;

static PyObject *s_events, *s_status_code, *s_value_, *s_attributes, *s_raw_parent,
    *s_raw_link, *s_span_id, *s_start_time, *s_end_time, *s_name, *s_route, *s_mount;

#define MAX_TOKEN 128
#define MAX_RAW_VALUE (2 * MAX_TOKEN + 1 + 4)
#define TRACEPARENT_SIZE 55
#define HEAD_SIZE 62 /* ids (fields 1, 2, 4), times (7, 8) and flags (16) */

/* ---- an output buffer that grows --------------------------------------------------- */

typedef struct {
    char *data;
    Py_ssize_t size, capacity;
} Buffer;

static int reserve(Buffer *b, Py_ssize_t more) {
    if (b->size + more <= b->capacity) return 0;
    Py_ssize_t capacity = b->capacity ? b->capacity : 65536;
    while (capacity < b->size + more) {
        if (capacity > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        capacity *= 2;
    }
    char *data = PyMem_Realloc(b->data, (size_t)capacity);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->capacity = capacity;
    return 0;
}

static void put(Buffer *b, const void *src, Py_ssize_t n) {
    memcpy(b->data + b->size, src, (size_t)n);
    b->size += n;
}

static void put_varint(Buffer *b, size_t n) {
    while (n >= 0x80) {
        b->data[b->size++] = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    b->data[b->size++] = (char)n;
}

/* Field 2 of ScopeSpans (a Span), framed: tag, length, then the message. */
static int put_framed(Buffer *b, PyObject *encoded) {
    if (!PyBytes_Check(encoded)) {
        PyErr_SetString(PyExc_TypeError, "an encoded span must be bytes");
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(encoded);
    if (reserve(b, n + 11) < 0) return -1;
    b->data[b->size++] = 0x12;
    put_varint(b, (size_t)n);
    put(b, PyBytes_AS_STRING(encoded), n);
    return 0;
}

/* ---- header values ----------------------------------------------------------------- */

static int hex_digit(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* upper case is not canonical */
}

static int unhex(const unsigned char *src, unsigned char *dst, int n) {
    int any = 0;
    for (int i = 0; i < n; i++) {
        int hi = hex_digit(src[2 * i]), lo = hex_digit(src[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        dst[i] = (unsigned char)(hi << 4 | lo);
        any |= dst[i];
    }
    return any != 0;
}

/* headers.canonical_ids: "00-<32 hex>-<16 hex>-<2 hex>" with neither id all zero. The
   trace id goes to trace[16], the parent span id to parent[8]. */
static int canonical_ids(const unsigned char *v, unsigned char *trace, unsigned char *parent) {
    if (v[0] != '0' || v[1] != '0' || v[2] != '-' || v[35] != '-' || v[52] != '-') return 0;
    if (hex_digit(v[53]) < 0 || hex_digit(v[54]) < 0) return 0;
    return unhex(v + 3, trace, 16) == 1 && unhex(v + 36, parent, 8) == 1;
}

/* 2 for a letter or digit, 1 for the other id characters (_ - . :), 0 for the rest. */
static int token_char(unsigned char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return 2;
    return c == '_' || c == '-' || c == '.' || c == ':';
}

/* An id from v[*start]: 1 to 128 id characters, at least one a letter or digit
   (headers._TOKEN_RE). Moves *end past it; 0 when it is not one. */
static int id_at(const unsigned char *v, Py_ssize_t n, Py_ssize_t start, Py_ssize_t *end) {
    Py_ssize_t i = start;
    int kind, alnum = 0;
    while (i < n && (kind = token_char(v[i])) != 0) {
        alnum |= kind == 2;
        i++;
    }
    *end = i;
    return alnum && i - start <= MAX_TOKEN;
}

/* headers.match_value: [ \t]*<id>/<id>[ \t]* (docs/linkage.md). Sets the offsets of the
   two ids; 0 when the value is malformed. */
static int link_tokens(const unsigned char *v, Py_ssize_t n, Py_ssize_t *s0, Py_ssize_t *s1,
                       Py_ssize_t *r0, Py_ssize_t *r1) {
    if (n > MAX_RAW_VALUE) return 0;
    Py_ssize_t i = 0;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    *s0 = i;
    if (!id_at(v, n, *s0, s1) || *s1 >= n || v[*s1] != '/') return 0;
    *r0 = *s1 + 1;
    if (!id_at(v, n, *r0, r1)) return 0;
    i = *r1;
    while (i < n && (v[i] == ' ' || v[i] == '\t')) i++;
    return i == n;
}

/* ---- one request span -------------------------------------------------------------- */

static int truthy_attr(PyObject *obj, PyObject *name) {
    PyObject *value = PyObject_GetAttr(obj, name);
    if (value == NULL) return -1;
    int result = PyObject_IsTrue(value);
    Py_DECREF(value);
    return result;
}

/* 1 when only the middleware wrote to the span (the fast path applies), 0 when not. */
static int middleware_only(PyObject *span, PyObject *attributes) {
    int events = truthy_attr(span, s_events);
    if (events != 0) return events < 0 ? -1 : 0;
    PyObject *status = PyObject_GetAttr(span, s_status_code);
    if (status == NULL) return -1;
    int code = truthy_attr(status, s_value_);
    Py_DECREF(status);
    if (code != 0) return code < 0 ? -1 : 0;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(attributes, &pos, &key, &value)) {
        Py_INCREF(key); /* a str subclass's __hash__ could change the dict under us */
        int known = PySet_Contains(middleware_keys, key);
        Py_DECREF(key);
        if (known <= 0) return known;
    }
    return 1;
}

/* 1 and the value when the attribute is an int in 0 .. 2**64-1, 0 when it is anything
   else (left to Python, which decides what it means), -1 on error. */
static int u64_attr(PyObject *span, PyObject *name, unsigned long long *out) {
    PyObject *value = PyObject_GetAttr(span, name);
    if (value == NULL) return -1;
    int plain = PyLong_CheckExact(value);
    if (plain) {
        *out = PyLong_AsUnsignedLongLong(value);
        if (*out == (unsigned long long)-1 && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
                Py_DECREF(value);
                return -1;
            }
            PyErr_Clear(); /* negative or too large */
            plain = 0;
        }
    }
    Py_DECREF(value);
    return plain;
}

/* Fields 1, 2, 4, 7, 8 and 16 from a canonical traceparent: 1 if written to head, 0 if the
   value is not canonical, 2 if the span is not for this path at all (an id or time that
   is not a plain int: the Python encoder takes the whole span, and its errors), -1 on
   error. */
static int remote_head(PyObject *span, PyObject *traceparent, unsigned char *head) {
    if (!PyBytes_CheckExact(traceparent) || PyBytes_GET_SIZE(traceparent) != TRACEPARENT_SIZE)
        return 0;
    const unsigned char *v = (const unsigned char *)PyBytes_AS_STRING(traceparent);
    if (!canonical_ids(v, head + 2, head + 30)) return 0;
    unsigned long long span_id, start, end;
    int plain = u64_attr(span, s_span_id, &span_id);
    if (plain == 1) plain = u64_attr(span, s_start_time, &start);
    if (plain == 1) plain = u64_attr(span, s_end_time, &end);
    if (plain != 1) return plain < 0 ? -1 : 2;
    head[0] = 0x0a, head[1] = 0x10;    /* 1: trace id, 16 bytes */
    head[18] = 0x12, head[19] = 0x08;  /* 2: span id, 8 bytes (big-endian) */
    for (int i = 0; i < 8; i++) head[20 + i] = (unsigned char)(span_id >> (56 - 8 * i));
    head[28] = 0x22, head[29] = 0x08;  /* 4: parent span id */
    head[38] = 0x39;                   /* 7: start time, fixed64 (little-endian) */
    for (int i = 0; i < 8; i++) head[39 + i] = (unsigned char)(start >> (8 * i));
    head[47] = 0x41;                   /* 8: end time */
    for (int i = 0; i < 8; i++) head[48 + i] = (unsigned char)(end >> (8 * i));
    /* 16: flags, fixed32: the parent is remote (export.lean.REMOTE_FLAGS, 0x300) */
    head[56] = 0x85, head[57] = 0x01, head[58] = 0x00, head[59] = 0x03, head[60] = 0x00,
    head[61] = 0x00;
    return 1;
}

/* request._endpoint's cache hit, else the function itself. New reference. */
static PyObject *endpoint(PyObject *span, PyObject *attributes) {
    PyObject *name = NULL, *route = NULL, *mount = NULL, *route_key = NULL, *key = NULL,
             *result = NULL;
    if ((name = PyObject_GetAttr(span, s_name)) == NULL ||
        (route = PyObject_GetAttr(span, s_route)) == NULL ||
        (mount = PyObject_GetAttr(span, s_mount)) == NULL)
        goto done;
    int plain = route == Py_None || PyUnicode_CheckExact(route);
    route_key = plain ? Py_NewRef(route) : PyLong_FromVoidPtr(route);
    if (route_key == NULL) goto done;
    PyObject *method = PyDict_GetItemWithError(attributes, key_method);
    if (method == NULL && PyErr_Occurred()) goto done;
    PyObject *status = PyDict_GetItemWithError(attributes, key_status);
    if (status == NULL && PyErr_Occurred()) goto done;
    key = PyTuple_Pack(5, name, method ? method : Py_None, status ? status : Py_None, route_key,
                       mount);
    if (key == NULL) goto done;
    PyObject *cached = PyDict_GetItemWithError(endpoints, key);
    if (cached == NULL && PyErr_Occurred()) goto done;
    if (cached != NULL && PyTuple_CheckExact(cached) && PyTuple_GET_SIZE(cached) == 2 &&
        (plain || PyTuple_GET_ITEM(cached, 0) == route) &&
        PyBytes_CheckExact(PyTuple_GET_ITEM(cached, 1))) {
        result = Py_NewRef(PyTuple_GET_ITEM(cached, 1));
    } else {
        result = PyObject_CallFunctionObjArgs(endpoint_fn, span, attributes, NULL);
    }
done:
    Py_XDECREF(name);
    Py_XDECREF(route);
    Py_XDECREF(mount);
    Py_XDECREF(route_key);
    Py_XDECREF(key);
    return result;
}

/* The url.path pair: cached, built by request._path, or empty. New reference. */
static PyObject *path_pair(PyObject *attributes) {
    PyObject *path = PyDict_GetItemWithError(attributes, key_path);
    if (path == NULL) return PyErr_Occurred() ? NULL : PyBytes_FromStringAndSize(NULL, 0);
    if (!PyUnicode_CheckExact(path)) return PyBytes_FromStringAndSize(NULL, 0);
    PyObject *cached = PyDict_GetItemWithError(paths, path);
    if (cached != NULL) return Py_NewRef(cached);
    if (PyErr_Occurred()) return NULL;
    Py_INCREF(path);
    PyObject *built = PyObject_CallOneArg(path_fn, path);
    Py_DECREF(path);
    return built;
}

/* Writes one request span, framed, when the fast path applies: 1 written, 0 not (the
   caller encodes it in Python), -1 error. */
static int fast_request_span(Buffer *out, PyObject *span) {
    unsigned char head[HEAD_SIZE];
    PyObject *attributes = NULL, *traceparent = NULL, *own_head = NULL, *described = NULL,
             *path = NULL, *link = NULL, *session = NULL, *pairs = NULL;
    PyObject *session_pair = NULL, *prefix = NULL; /* borrowed */
    Py_ssize_t s0 = 0, s1 = 0, r0 = 0, r1 = 0;
    int status = -1;

    attributes = PyObject_GetAttr(span, s_attributes);
    if (attributes == NULL) goto done;
    if (!PyDict_CheckExact(attributes)) {
        status = 0;
        goto done;
    }
    int only = middleware_only(span, attributes);
    if (only <= 0) {
        status = only;
        goto done;
    }
    traceparent = PyObject_GetAttr(span, s_raw_parent);
    if (traceparent == NULL) goto done;
    if (PyUnicode_CheckExact(traceparent) && PyUnicode_GET_LENGTH(traceparent) == TRACEPARENT_SIZE) {
        /* a WSGI header: latin-1 decoded str */
        Py_SETREF(traceparent, PyUnicode_AsEncodedString(traceparent, "latin-1", "replace"));
        if (traceparent == NULL) goto done;
    }
    int remote = remote_head(span, traceparent, head);
    if (remote < 0 || remote == 2) {
        status = remote < 0 ? -1 : 0;
        goto done;
    }
    if (remote == 0) {
        own_head = PyObject_CallFunctionObjArgs(own_ids, span, traceparent, NULL);
        if (own_head == NULL) goto done;
        if (!PyBytes_CheckExact(own_head)) {
            PyErr_SetString(PyExc_TypeError, "_own_ids must return bytes");
            goto done;
        }
    }
    described = endpoint(span, attributes);
    if (described == NULL) goto done;
    path = path_pair(attributes);
    if (path == NULL) goto done;
    if (!PyBytes_CheckExact(described) || !PyBytes_CheckExact(path)) {
        PyErr_SetString(PyExc_TypeError, "encoded parts must be bytes");
        goto done;
    }
    link = PyObject_GetAttr(span, s_raw_link);
    if (link == NULL) goto done;
    const unsigned char *value = NULL;
    if (PyBytes_CheckExact(link) &&
        link_tokens((value = (const unsigned char *)PyBytes_AS_STRING(link)),
                    PyBytes_GET_SIZE(link), &s0, &s1, &r0, &r1)) {
        session = PyBytes_FromStringAndSize((const char *)value + s0, s1 - s0);
        if (session == NULL) goto done;
        session_pair = PyDict_GetItemWithError(sessions, session);
        if (session_pair == NULL && PyErr_Occurred()) goto done;
        if (session_pair != NULL && PyBytes_CheckExact(session_pair)) {
            prefix = PyTuple_GET_ITEM(request_prefixes, r1 - r0);
        } else {
            PyObject *request = PyBytes_FromStringAndSize((const char *)value + r0, r1 - r0);
            if (request == NULL) goto done;
            pairs = PyObject_CallFunctionObjArgs(link_pairs_fn, session, request, NULL);
            Py_DECREF(request);
        }
    } else {
        pairs = PyObject_CallOneArg(other_pairs_fn, span);
    }
    if (prefix == NULL && (pairs == NULL || !PyBytes_CheckExact(pairs))) {
        if (pairs != NULL) PyErr_SetString(PyExc_TypeError, "link pairs must be bytes");
        goto done;
    }

    Py_ssize_t head_size = own_head ? PyBytes_GET_SIZE(own_head) : HEAD_SIZE;
    Py_ssize_t link_size = prefix ? PyBytes_GET_SIZE(session_pair) + PyBytes_GET_SIZE(prefix) +
                                        (r1 - r0)
                                  : PyBytes_GET_SIZE(pairs);
    Py_ssize_t size = head_size + PyBytes_GET_SIZE(described) + PyBytes_GET_SIZE(path) + link_size;
    if (reserve(out, size + 11) < 0) goto done;
    out->data[out->size++] = 0x12; /* ScopeSpans.spans */
    put_varint(out, (size_t)size);
    put(out, own_head ? PyBytes_AS_STRING(own_head) : (const char *)head, head_size);
    put(out, PyBytes_AS_STRING(described), PyBytes_GET_SIZE(described));
    put(out, PyBytes_AS_STRING(path), PyBytes_GET_SIZE(path));
    if (prefix) {
        put(out, PyBytes_AS_STRING(session_pair), PyBytes_GET_SIZE(session_pair));
        put(out, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix));
        put(out, value + r0, r1 - r0);
    } else {
        put(out, PyBytes_AS_STRING(pairs), PyBytes_GET_SIZE(pairs));
    }
    status = 1;
done:
    Py_XDECREF(attributes);
    Py_XDECREF(traceparent);
    Py_XDECREF(own_head);
    Py_XDECREF(described);
    Py_XDECREF(path);
    Py_XDECREF(link);
    Py_XDECREF(session);
    Py_XDECREF(pairs);
    return status;
}

/* ---- module functions -------------------------------------------------------------- */

static PyObject *our_spans(PyObject *module, PyObject *spans) {
    if (request_span_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_speedups.configure() was not called");
        return NULL;
    }
    PyObject *fast = PySequence_Tuple(spans); /* a callback cannot change what we walk */
    if (fast == NULL) return NULL;
    Buffer out = {NULL, 0, 0};
    PyObject *others = PyList_New(0), *result = NULL;
    if (others == NULL) goto done;
    Py_ssize_t count = PyTuple_GET_SIZE(fast);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *span = PyTuple_GET_ITEM(fast, i);
        PyObject *kind = (PyObject *)Py_TYPE(span);
        if (kind == request_span_type) {
            int written = fast_request_span(&out, span);
            if (written < 0) goto done;
            if (written) continue;
            PyObject *encoded = PyObject_CallOneArg(encode_request, span);
            int failed = encoded == NULL || put_framed(&out, encoded) < 0;
            Py_XDECREF(encoded);
            if (failed) goto done;
        } else if (kind == span_record_type) {
            PyObject *encoded = PyObject_CallOneArg(encode_lean, span);
            int failed = encoded == NULL || put_framed(&out, encoded) < 0;
            Py_XDECREF(encoded);
            if (failed) goto done;
        } else if (PyList_Append(others, span) < 0) {
            goto done;
        }
    }
    PyObject *framed = PyBytes_FromStringAndSize(out.data ? out.data : "", out.size);
    if (framed == NULL) goto done;
    result = PyTuple_Pack(2, framed, others);
    Py_DECREF(framed);
done:
    PyMem_Free(out.data);
    Py_XDECREF(others);
    Py_DECREF(fast);
    return result;
}

static PyObject *configure(PyObject *module, PyObject *args) {
    PyObject *given[17];
    if (!PyArg_ParseTuple(args, "O!O!OOOOOOOO!O!O!O!O!UUU:configure", &PyType_Type, &given[0],
                          &PyType_Type, &given[1], &given[2], &given[3], &given[4], &given[5],
                          &given[6], &given[7], &given[8], &PyDict_Type, &given[9], &PyDict_Type,
                          &given[10], &PyDict_Type, &given[11], &PyList_Type, &given[12],
                          &PyFrozenSet_Type, &given[13], &given[14], &given[15], &given[16]))
        return NULL;
    if (PyList_GET_SIZE(given[12]) != MAX_TOKEN + 1) {
        PyErr_SetString(PyExc_ValueError, "one request prefix per value size, 0 to 128");
        return NULL;
    }
    for (Py_ssize_t i = 0; i <= MAX_TOKEN; i++) {
        if (!PyBytes_CheckExact(PyList_GET_ITEM(given[12], i))) {
            PyErr_SetString(PyExc_TypeError, "request prefixes must be bytes");
            return NULL;
        }
    }
    PyObject **slots[17] = {
        &request_span_type, &span_record_type, &encode_request, &encode_lean, &own_ids,
        &endpoint_fn, &path_fn, &link_pairs_fn, &other_pairs_fn, &endpoints, &paths, &sessions,
        &request_prefixes, &middleware_keys, &key_method, &key_path, &key_status};
    PyObject *prefixes = PyList_AsTuple(given[12]);
    if (prefixes == NULL) return NULL;
    for (int i = 0; i < 17; i++) Py_XSETREF(*slots[i], i == 12 ? prefixes : Py_NewRef(given[i]));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"our_spans", our_spans, METH_O,
     "our_spans(spans) -> (framed, others): request spans and lean spans encoded and framed "
     "as ScopeSpans.spans, in order; every other span returned as it came."},
    {"configure", configure, METH_VARARGS, "Hand over the Python side (see export/scope.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "backlight.export._speedups", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    struct {
        PyObject **slot;
        const char *text;
    } names[] = {
        {&s_events, "events"},         {&s_status_code, "status_code"},
        {&s_value_, "_value_"},        {&s_attributes, "attributes"},
        {&s_raw_parent, "raw_parent"}, {&s_raw_link, "raw_link"},
        {&s_span_id, "span_id"},       {&s_start_time, "start_time"},
        {&s_end_time, "end_time"},     {&s_name, "name"},
        {&s_route, "route"},           {&s_mount, "mount"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) return NULL;
    }
    return PyModule_Create(&module_def);
}
