/* Two hot paths of flightdeck.telemetry in C, each the common case of a Python function that
 * stays the reference and handles the rest. Where Python code can run inside a loop (a
 * finalizer, a __len__), the objects the loop goes on using are held, not borrowed.
 *
 * update_attributes(mine, attributes) -> int: LeanSpan.set_attributes' loop (spans.py) for
 * a dict of attributes within the span limits: each leading pair with a non-empty str key and
 * a str, bool, int or float value, or a list of str (stored as a tuple), is moved to the end
 * of ``mine``; it stops at the first other pair and returns how many it stored, and Python
 * goes on from there with the SDK's cleaning rules.
 *
 * encode_spans(spans) -> list[bytes | None]: for each span, the bytes of its
 * ``ScopeSpans.spans`` field (tag 2, length, ``Span``), exactly as
 * ``TraceRequestEncoder._span`` writes them, or None where the span is not the common case
 * and must go through the Python encoder: not a ``LeanSpan``; a context or parent that is not
 * the API's ``SpanContext`` itself (a subclass may override what Python reads); a
 * ``tracestate``; events,
 * links or their dropped counts; a status other than the unset one every LeanSpan starts
 * with; an attribute value that is not exactly str, bool, int (in int64), float or a tuple
 * of str; text that is not valid UTF-8 (a lone surrogate). The Python encoder then gives
 * the span's bytes, or logs and skips what the official encoder would. ``configure`` hands
 * over the Python objects the checks compare with (once, at import of otlp.py).
 *
 * Wire layout: opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto
 * (open-telemetry/opentelemetry-proto, as compiled in opentelemetry-proto 1.45.2); see the
 * docstring of flightdeck/telemetry/otlp.py. tests/telemetry/test_speedups.py compares
 * both functions with their Python paths (bytes, attributes, fallbacks, references).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    PyObject *lean_type;   /* flightdeck.telemetry.spans.LeanSpan */
    PyObject *unset;       /* LeanSpan._status: the unset status every span starts with */
    PyObject *no_state;    /* opentelemetry.trace.DEFAULT_TRACE_STATE */
    PyObject *context_type; /* opentelemetry.trace.SpanContext (a tuple; a subclass may
                              * override its properties, which Python reads) */
    PyObject *kinds;       /* tuple of the SpanKind members in value order (0..4) */
    PyObject *names[13];   /* interned attribute names, see NAME_* */
} module_state;

static module_state S;

enum {
    NAME_CONTEXT, NAME_PARENT, NAME_NAME, NAME_KIND, NAME_START, NAME_END,
    NAME_ATTRIBUTES, NAME_EVENTS, NAME_LINKS, NAME_STATUS, NAME_DROPPED_ATTRIBUTES,
    NAME_DROPPED_EVENTS, NAME_DROPPED_LINKS, NAME_COUNT
};
static const char *NAME_TEXT[] = {
    "_context", "_parent", "_name", "_kind", "_start_time", "_end_time",
    "_attributes", "_events", "_links", "_status", "_dropped_attributes", "_dropped_events", "_dropped_links",
};

/* A growable byte buffer: it starts in the caller's array ``stack`` (``cap`` bytes) and moves
 * to the heap past that; the caller frees ``data`` when it is no longer ``stack``. */
typedef struct {
    char *data;
    Py_ssize_t len, cap;
    char *stack;
} buf;

/* Room for ``need`` more bytes. */
static int grow(buf *b, Py_ssize_t need) {
    if (b->len + need <= b->cap) return 0;
    Py_ssize_t cap = b->cap * 2;
    while (cap < b->len + need) cap *= 2;
    char *data;
    if (b->data == b->stack) {
        data = PyMem_Malloc(cap);
        if (data) memcpy(data, b->data, b->len);
    } else {
        data = PyMem_Realloc(b->data, cap);
    }
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static inline int varint_size(uint64_t n) {
    int size = 1;
    while (n >= 0x80) {
        n >>= 7;
        size++;
    }
    return size;
}

/* The caller has made room (10 bytes at most). */
static inline void put_varint(buf *b, uint64_t n) {
    while (n >= 0x80) {
        b->data[b->len++] = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    b->data[b->len++] = (char)n;
}

static inline void put_byte(buf *b, unsigned char c) { b->data[b->len++] = (char)c; }

static inline void put_bytes(buf *b, const char *p, Py_ssize_t n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static inline void put_fixed64(buf *b, uint64_t v) {
    for (int i = 0; i < 8; i++) b->data[b->len++] = (char)((v >> (8 * i)) & 0xFF);
}

/* A length-delimited string field: tag, varint length, bytes. */
static int put_text(buf *b, unsigned char tag, const char *p, Py_ssize_t n) {
    if (grow(b, 1 + 10 + n) < 0) return -1;
    put_byte(b, tag);
    put_varint(b, (uint64_t)n);
    put_bytes(b, p, n);
    return 0;
}

/* Text of an exact str as UTF-8, or NULL with no error set when it cannot be (a lone
 * surrogate: the Python encoder's .encode() raises there). */
static const char *utf8(PyObject *text, Py_ssize_t *n) {
    const char *p = PyUnicode_AsUTF8AndSize(text, n);
    if (!p) PyErr_Clear();
    return p;
}

/* An exact int in [0, 2**(8*size)) as ``size`` big-endian bytes (ids, 16 or 8 bytes) into
 * out: 0, or -1 with no error set when it is not one (the Python encoder raises there). */
static int id_bytes(PyObject *value, unsigned char *out, Py_ssize_t size) {
    if (!PyLong_CheckExact(value)) return -1;
#if PY_VERSION_HEX >= 0x030E0000
    int sign;
    if (PyLong_GetSign(value, &sign) < 0) {
        PyErr_Clear();
        return -1;
    }
    if (sign < 0) return -1;
#else
    if (_PyLong_Sign(value) < 0) return -1;
#endif
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t need = PyLong_AsNativeBytes(
        value, out, size, Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER);
    if (need < 0) {
        PyErr_Clear();
        return -1;
    }
    return need <= size ? 0 : -1;
#else
    if (_PyLong_AsByteArray((PyLongObject *)value, out, (size_t)size, 0, 0) < 0) {
        PyErr_Clear();
        return -1;
    }
    return 0;
#endif
}

/* A non-negative int below 2**64 (times): 0, or -1 with no error set. */
static int u64(PyObject *value, uint64_t *out) {
    if (!PyLong_CheckExact(value)) return -1;
    unsigned long long v = PyLong_AsUnsignedLongLong(value);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    *out = v;
    return 0;
}

/* Size of an AnyValue holding a str of n bytes: tag, length, bytes. */
static inline Py_ssize_t str_value_size(Py_ssize_t n) { return 1 + varint_size((uint64_t)n) + n; }

/* A Span.attributes field (9) up to its AnyValue's body: the tag, the KeyValue's length, its
 * key (left out when empty), the tag and length of KeyValue.value; with room for the body. */
static int put_key_value_head(buf *b, const char *key, Py_ssize_t key_len, Py_ssize_t value_size) {
    Py_ssize_t key_size = key_len ? 1 + varint_size((uint64_t)key_len) + key_len : 0;
    Py_ssize_t kv = key_size + 1 + varint_size((uint64_t)value_size) + value_size;
    if (grow(b, 1 + 10 + kv) < 0) return -1;
    put_byte(b, 0x4a);
    put_varint(b, (uint64_t)kv);
    if (key_len) {
        put_byte(b, 0x0a);
        put_varint(b, (uint64_t)key_len);
        put_bytes(b, key, key_len);
    }
    put_byte(b, 0x12);
    put_varint(b, (uint64_t)value_size);
    return 0;
}

/* One attribute as a Span.attributes field (9): 1 written, 0 not the common case, -1 error. */
static int put_attribute(buf *b, PyObject *key, PyObject *value) {
    Py_ssize_t key_len;
    if (!PyUnicode_CheckExact(key)) return 0;
    const char *key_text = utf8(key, &key_len);
    if (!key_text) return 0;
    Py_ssize_t value_size; /* the AnyValue's body */
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t n;
        const char *text = utf8(value, &n);
        if (!text) return 0;
        value_size = str_value_size(n);
        if (put_key_value_head(b, key_text, key_len, value_size) < 0) return -1;
        put_byte(b, 0x0a);
        put_varint(b, (uint64_t)n);
        put_bytes(b, text, n);
        return 1;
    }
    unsigned char scalar[11];
    int scalar_len;
    if (PyBool_Check(value)) {
        scalar[0] = 0x10;
        scalar[1] = value == Py_True;
        scalar_len = 2;
    } else if (PyLong_CheckExact(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) return 0; /* outside int64: the Python encoder logs and skips it */
        if (v == -1 && PyErr_Occurred()) return -1;
        uint64_t u = (uint64_t)v; /* two's complement: a negative one takes 10 bytes */
        scalar[0] = 0x18;
        scalar_len = 1;
        while (u >= 0x80) {
            scalar[scalar_len++] = (unsigned char)((u & 0x7F) | 0x80);
            u >>= 7;
        }
        scalar[scalar_len++] = (unsigned char)u;
    } else if (PyFloat_CheckExact(value)) {
        double d = PyFloat_AS_DOUBLE(value);
        uint64_t u;
        memcpy(&u, &d, 8);
        scalar[0] = 0x21;
        for (int i = 0; i < 8; i++) scalar[1 + i] = (unsigned char)((u >> (8 * i)) & 0xFF);
        scalar_len = 9;
    } else if (PyTuple_CheckExact(value)) {
        /* ArrayValue (AnyValue field 5) of str AnyValues (ArrayValue field 1 each) */
        Py_ssize_t count = PyTuple_GET_SIZE(value), inner = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = PyTuple_GET_ITEM(value, i);
            Py_ssize_t n;
            if (!PyUnicode_CheckExact(item) || !utf8(item, &n)) return 0;
            Py_ssize_t one = str_value_size(n);
            inner += 1 + varint_size((uint64_t)one) + one;
        }
        value_size = 1 + varint_size((uint64_t)inner) + inner;
        if (put_key_value_head(b, key_text, key_len, value_size) < 0) return -1;
        put_byte(b, 0x2a);
        put_varint(b, (uint64_t)inner);
        for (Py_ssize_t i = 0; i < count; i++) {
            Py_ssize_t n;
            const char *text = utf8(PyTuple_GET_ITEM(value, i), &n);
            put_byte(b, 0x0a);
            put_varint(b, (uint64_t)str_value_size(n));
            put_byte(b, 0x0a);
            put_varint(b, (uint64_t)n);
            put_bytes(b, text, n);
        }
        return 1;
    } else {
        return 0;
    }
    if (put_key_value_head(b, key_text, key_len, scalar_len) < 0) return -1;
    put_bytes(b, (const char *)scalar, scalar_len);
    return 1;
}

/* Is ``value`` empty or zero (a sequence, a count)? 1 yes, 0 no, -1 error. */
static int empty(PyObject *value) {
    int truth = PyObject_IsTrue(value);
    return truth < 0 ? -1 : !truth;
}

/* A span's Span body into b: 1 written, 0 not the common case, -1 error. */
static int put_span(buf *b, PyObject *span) {
    PyObject *f[NAME_COUNT] = {NULL};
    int result = -1;
    for (int i = 0; i < NAME_COUNT; i++) {
        f[i] = PyObject_GetAttr(span, S.names[i]);
        if (!f[i]) goto done;
    }
    PyObject *ctx = f[NAME_CONTEXT], *parent = f[NAME_PARENT];
    result = 0;
    if (f[NAME_STATUS] != S.unset) goto done;
    int e = 1;
    for (int i = NAME_EVENTS; e == 1 && i < NAME_COUNT; i++)
        if (i != NAME_STATUS && i != NAME_DROPPED_ATTRIBUTES) e = empty(f[i]);
    if (e != 1) {
        result = e < 0 ? -1 : 0;
        goto done;
    }
    if ((PyObject *)Py_TYPE(ctx) != S.context_type || PyTuple_GET_SIZE(ctx) < 6) goto done;
    if (PyTuple_GET_ITEM(ctx, 4) != S.no_state) {
        if ((e = empty(PyTuple_GET_ITEM(ctx, 4))) != 1) {
            result = e < 0 ? -1 : 0;
            goto done;
        }
    }
    unsigned char ids[24];
    if (id_bytes(PyTuple_GET_ITEM(ctx, 0), ids, 16) < 0 ||
        id_bytes(PyTuple_GET_ITEM(ctx, 1), ids + 16, 8) < 0)
        goto done;
    if (grow(b, 64) < 0) {
        result = -1;
        goto done;
    }
    put_byte(b, 0x0a); /* trace_id (1) */
    put_byte(b, 0x10);
    put_bytes(b, (const char *)ids, 16);
    put_byte(b, 0x12); /* span_id (2) */
    put_byte(b, 0x08);
    put_bytes(b, (const char *)ids + 16, 8);
    int remote = 0;
    if (parent != Py_None) {
        if ((PyObject *)Py_TYPE(parent) != S.context_type || PyTuple_GET_SIZE(parent) < 6)
            goto done;
        if (id_bytes(PyTuple_GET_ITEM(parent, 1), ids, 8) < 0) goto done;
        put_byte(b, 0x22); /* parent_span_id (4) */
        put_byte(b, 0x08);
        put_bytes(b, (const char *)ids, 8);
        remote = PyObject_IsTrue(PyTuple_GET_ITEM(parent, 2));
        if (remote < 0) {
            result = -1;
            goto done;
        }
    }
    PyObject *name = f[NAME_NAME];
    if (!PyUnicode_CheckExact(name)) goto done;
    Py_ssize_t name_len;
    const char *name_text = utf8(name, &name_len);
    if (!name_text) goto done;
    if (name_len && put_text(b, 0x2a, name_text, name_len) < 0) {
        result = -1;
        goto done;
    }
    int kind = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(S.kinds); i++)
        if (PyTuple_GET_ITEM(S.kinds, i) == f[NAME_KIND]) kind = (int)i;
    if (kind < 0) goto done;
    uint64_t times[2];
    for (int i = 0; i < 2; i++) {
        PyObject *t = f[NAME_START + i];
        times[i] = 0;
        if (t == Py_None) continue;
        if (u64(t, &times[i]) < 0) goto done;
    }
    if (grow(b, 32) < 0) {
        result = -1;
        goto done;
    }
    put_byte(b, 0x30); /* kind (6): the SDK's value + 1 */
    put_byte(b, (unsigned char)(kind + 1));
    if (times[0]) {
        put_byte(b, 0x39); /* start_time_unix_nano (7) */
        put_fixed64(b, times[0]);
    }
    if (times[1]) {
        put_byte(b, 0x41); /* end_time_unix_nano (8) */
        put_fixed64(b, times[1]);
    }
    PyObject *attributes = f[NAME_ATTRIBUTES];
    if (!PyDict_CheckExact(attributes)) goto done;
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(attributes, &pos, &key, &value)) {
        int put = put_attribute(b, key, value);
        if (put <= 0) {
            result = put;
            goto done;
        }
    }
    PyObject *dropped = f[NAME_DROPPED_ATTRIBUTES];
    if (!PyLong_CheckExact(dropped)) goto done;
    long long n_dropped = PyLong_AsLongLong(dropped);
    if (n_dropped < 0) {
        if (PyErr_Occurred()) PyErr_Clear();
        goto done;
    }
    if (grow(b, 32) < 0) {
        result = -1;
        goto done;
    }
    if (n_dropped) {
        put_byte(b, 0x50); /* dropped_attributes_count (10) */
        put_varint(b, (uint64_t)n_dropped);
    }
    put_byte(b, 0x7a); /* status (15), empty */
    put_byte(b, 0x00);
    /* flags (16, fixed32): HAS_IS_REMOTE 0x100, and IS_REMOTE 0x200 for a remote parent */
    put_byte(b, 0x85);
    put_byte(b, 0x01);
    put_byte(b, 0x00);
    put_byte(b, remote ? 0x03 : 0x01);
    put_byte(b, 0x00);
    put_byte(b, 0x00);
    result = 1;
done:
    for (int i = 0; i < NAME_COUNT; i++) Py_XDECREF(f[i]);
    return result;
}

/* One span's ScopeSpans.spans field (a new bytes), a new reference to None where Python must
 * write it, or NULL with an error set. b is scratch space, kept between spans. */
static PyObject *field_of(buf *b, PyObject *span) {
    if ((PyObject *)Py_TYPE(span) != S.lean_type) return Py_NewRef(Py_None);
    b->len = 0;
    int put = put_span(b, span);
    if (put < 0) return NULL;
    if (!put) return Py_NewRef(Py_None);
    Py_ssize_t n = b->len;
    PyObject *field = PyBytes_FromStringAndSize(NULL, 1 + varint_size((uint64_t)n) + n);
    if (!field) return NULL;
    char *p = PyBytes_AS_STRING(field);
    buf head = {p, 0, 16, p};
    put_byte(&head, 0x12); /* ScopeSpans.spans (2): tag, length, body */
    put_varint(&head, (uint64_t)n);
    memcpy(p + head.len, b->data, n);
    return field;
}

static int configured(void) {
    if (S.lean_type) return 1;
    PyErr_SetString(PyExc_RuntimeError, "configure() was not called");
    return 0;
}

static PyObject *encode_spans(PyObject *self, PyObject *spans) {
    (void)self;
    if (!configured()) return NULL;
    /* A tuple of its own: Python code run from inside (a finalizer, a __len__) cannot change
     * the batch under the loop. */
    PyObject *seq = PySequence_Tuple(spans);
    if (!seq) return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(seq);
    PyObject *out = PyList_New(count);
    char scratch[1024];
    buf b = {scratch, 0, sizeof scratch, scratch};
    for (Py_ssize_t i = 0; out && i < count; i++) {
        PyObject *field = field_of(&b, PyTuple_GET_ITEM(seq, i));
        if (!field) Py_CLEAR(out);
        else PyList_SET_ITEM(out, i, field);
    }
    if (b.data != scratch) PyMem_Free(b.data);
    Py_DECREF(seq);
    return out;
}

static PyObject *update_attributes(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *mine, *attributes;
    if (!PyArg_ParseTuple(args, "OO", &mine, &attributes)) return NULL;
    Py_ssize_t done = 0, pos = 0;
    PyObject *key, *value;
    if (!PyDict_CheckExact(mine) || !PyDict_CheckExact(attributes) || attributes == mine)
        return PyLong_FromSsize_t(0);
    while (PyDict_Next(attributes, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || PyUnicode_GET_LENGTH(key) == 0) break;
        if (!(PyUnicode_CheckExact(value) || PyBool_Check(value) || PyLong_CheckExact(value) ||
              PyFloat_CheckExact(value) || PyList_CheckExact(value)))
            break;
        /* Owned from here: the tuple's allocation (a GC pass) and the old value's release
         * below can run Python code (finalizers) that changes ``attributes``. */
        Py_INCREF(key);
        Py_INCREF(value);
        PyObject *stored = value;
        int ok = 1;
        if (PyList_CheckExact(value)) {
            Py_ssize_t n = PyList_GET_SIZE(value), i = 0;
            while (i < n && PyUnicode_CheckExact(PyList_GET_ITEM(value, i))) i++;
            if (i < n) {
                ok = 0;
                stored = NULL;
            } else {
                stored = PyList_AsTuple(value);
                if (!stored) ok = -1;
            }
        } else {
            Py_INCREF(stored);
        }
        if (ok == 1) {
            /* a key set again moves to the end, as in the SDK's BoundedAttributes */
            int had = PyDict_Contains(mine, key);
            if (had < 0 || (had && PyDict_DelItem(mine, key) < 0) ||
                PyDict_SetItem(mine, key, stored) < 0)
                ok = -1;
        }
        Py_XDECREF(stored);
        Py_DECREF(value);
        Py_DECREF(key);
        if (ok < 0) return NULL;
        if (!ok) break;
        done++;
    }
    return PyLong_FromSsize_t(done);
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *lean_type, *unset, *no_state, *context_type, *kinds;
    if (!PyArg_ParseTuple(
            args, "OOOOO!", &lean_type, &unset, &no_state, &context_type, &PyTuple_Type, &kinds))
        return NULL;
    Py_XSETREF(S.lean_type, Py_NewRef(lean_type));
    Py_XSETREF(S.context_type, Py_NewRef(context_type));
    Py_XSETREF(S.unset, Py_NewRef(unset));
    Py_XSETREF(S.no_state, Py_NewRef(no_state));
    Py_XSETREF(S.kinds, Py_NewRef(kinds));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"encode_spans", encode_spans, METH_O,
     "encode_spans(spans) -> list[bytes | None]: each span's ScopeSpans.spans field, or None "
     "where the Python encoder must write it (see the C source's header)."},
    {"update_attributes", update_attributes, METH_VARARGS,
     "update_attributes(mine, attributes) -> int: LeanSpan.set_attributes' common case (see "
     "the C source's header); how many leading pairs it stored."},
    {"configure", configure, METH_VARARGS,
     "configure(LeanSpan, unset_status, DEFAULT_TRACE_STATE, SpanContext, "
     "span_kinds_in_value_order)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_speedups",
    "Two hot paths of flightdeck.telemetry in C (spans.py and otlp.py keep the reference).", -1, methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    for (int i = 0; i < NAME_COUNT; i++) {
        S.names[i] = PyUnicode_InternFromString(NAME_TEXT[i]);
        if (!S.names[i]) return NULL;
    }
    return PyModule_Create(&module);
}
