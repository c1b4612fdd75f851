/*
 * _pushwire: the CPython extension over pushwire's C ABI (capi/include/pushwire/pushwire.h).
 *
 * Written against the limited API of 3.9, so one abi3 build serves every later CPython.
 * The module is thin on purpose (STYLE.md 20): it loops feed / next_event in C, builds
 * the event objects here (one Python call per feed, not per frame), copies each payload
 * span once into a str or bytes, and raises only after the core call has returned.
 * pushwire/__init__.py is the idiomatic layer on top.
 *
 * Threading: every call runs with the GIL held and the core never calls back into Python
 * except through the optional `random` hook. A handle is single-threaded, so each native
 * object carries an "in use" flag, tested and set under the GIL on entry and cleared
 * before returning: a second thread (or a re-entrant call from the random hook, during
 * which the GIL may pass to another thread) gets an error instead of corrupting the
 * handle. Free-threaded CPython has no abi3; this module is not built for it.
 *
 * Memory: handles allocate through PyMem_Malloc (the GIL is always held when the core
 * allocates), so tracemalloc sees the core's buffers too.
 */
#define Py_LIMITED_API 0x03090000
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include <stdint.h>
#include <string.h>

#include "pushwire/pushwire.h"

#if PUSHWIRE_VERSION_NUM < 0x000100
#error "pushwire headers older than 0.1.0"
#endif

/* ------------------------------------------------------------------------ */
/* Module state                                                             */
/* ------------------------------------------------------------------------ */

enum {
  K_REQUEST,
  K_ACCEPTED,
  K_REJECTED,
  K_TEXT,
  K_BYTES,
  K_PING,
  K_PONG,
  K_CLOSE,
  K_SSE_EVENT,
  K_SSE_RETRY,
  K_SSE_COMMENT,
  K_COUNT
};

typedef struct {
  PyObject *ProtocolError;
  PyObject *LocalProtocolError;
  PyObject *RemoteProtocolError;
  PyTypeObject *Event;
  PyTypeObject *Message;
  PyTypeObject *kinds[K_COUNT];
  PyTypeObject *WSConnection;
  PyTypeObject *SSEParser;
  PyTypeObject *SSEWriter;
  PyObject *str_message; /* "message", the default SSE event type */
  PyObject *str_empty;
} modstate;

static struct PyModuleDef pushwire_module;

/* ------------------------------------------------------------------------ */
/* Allocator: the core's memory through PyMem (GIL held, tracemalloc-visible) */
/* ------------------------------------------------------------------------ */

static void *pw_malloc(void *user, size_t n) {
  (void)user;
  return PyMem_Malloc(n ? n : 1);
}
static void *pw_realloc(void *user, void *p, size_t n) {
  (void)user;
  return PyMem_Realloc(p, n ? n : 1);
}
static void pw_free(void *user, void *p) {
  (void)user;
  PyMem_Free(p);
}
static const pushwire_allocator pw_alloc = {NULL, pw_malloc, pw_realloc, pw_free};

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Sets attributes on a freshly created exception; returns -1 on failure. */
static int set_attr_int(PyObject *exc, const char *name, long v, int present) {
  PyObject *o;
  if (present) {
    o = PyLong_FromLong(v);
    if (!o) return -1;
  } else {
    o = Py_None;
    Py_INCREF(o);
  }
  int rc = PyObject_SetAttrString(exc, name, o);
  Py_DECREF(o);
  return rc;
}

/*
 * Raises the exception for pushwire code `rc` from the call `what` (a str): LocalProtocolError
 * for -1xx, RemoteProtocolError for -2xx, MemoryError for NOMEM, ProtocolError otherwise. The
 * message is the call, pushwire_strerror and, when known, the handle's failure reason.
 * `hint` is the handle's close-code/status hint (0: none). Returns NULL.
 */
static PyObject *make_exc(modstate *st, int rc, PyObject *what, const char *reason, int hint) {
  PyObject *cls = pushwire_error_is_local(rc)    ? st->LocalProtocolError
                  : pushwire_error_is_remote(rc) ? st->RemoteProtocolError
                                                 : st->ProtocolError;
  PyObject *msg;
  if (reason && reason[0])
    msg = PyUnicode_FromFormat("%U: %s (%s) [%s]", what, pushwire_strerror(rc), reason, pushwire_error_name(rc));
  else
    msg = PyUnicode_FromFormat("%U: %s [%s]", what, pushwire_strerror(rc), pushwire_error_name(rc));
  if (!msg) return NULL;
  PyObject *exc = PyObject_CallFunctionObjArgs(cls, msg, NULL);
  Py_DECREF(msg);
  if (!exc) return NULL;
  PyObject *name = PyUnicode_FromString(pushwire_error_name(rc));
  int bad = !name || PyObject_SetAttrString(exc, "name", name) < 0;
  Py_XDECREF(name);
  if (bad || set_attr_int(exc, "code", rc, 1) < 0 || set_attr_int(exc, "close_code", hint, hint >= 1000) < 0 ||
      set_attr_int(exc, "status_hint", hint, hint > 0 && hint < 1000) < 0) {
    Py_DECREF(exc);
    return NULL;
  }
  return exc;
}

static PyObject *raise_pw_obj(modstate *st, int rc, PyObject *what, const char *reason, int hint) {
  if (rc == PUSHWIRE_ERR_NOMEM) return PyErr_NoMemory();
  PyObject *exc = make_exc(st, rc, what, reason, hint);
  if (!exc) return NULL;
  PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
  Py_DECREF(exc);
  return NULL;
}

static PyObject *raise_pw(modstate *st, int rc, const char *what, const char *reason, int hint) {
  PyObject *w = PyUnicode_FromString(what);
  if (!w) return NULL;
  raise_pw_obj(st, rc, w, reason, hint);
  Py_DECREF(w);
  return NULL;
}

static PyObject *raise_local(modstate *st, const char *what, const char *detail) {
  return raise_pw(st, PUSHWIRE_ERR_INVALID_STATE, what, detail, 0);
}

/* ------------------------------------------------------------------------ */
/* Input: bytes and bytearray without a copy, other buffers copied once      */
/* ------------------------------------------------------------------------ */

typedef struct {
  const uint8_t *ptr;
  Py_ssize_t len;
  PyObject *keep; /* a reference to release, or NULL */
} inbuf;

/*
 * The limited API before 3.11 has no PyObject_GetBuffer: bytes and bytearray are read in
 * place; other buffer objects (memoryview, array, mmap) are copied into a bytes first.
 * `text` also admits str, encoded as UTF-8.
 */
static int get_input(PyObject *o, inbuf *b, int text, const char *what) {
  b->keep = NULL;
  if (PyBytes_Check(o)) {
    char *p;
    if (PyBytes_AsStringAndSize(o, &p, &b->len) < 0) return -1;
    b->ptr = (const uint8_t *)p;
    return 0;
  }
  if (PyByteArray_Check(o)) {
    b->ptr = (const uint8_t *)PyByteArray_AsString(o);
    b->len = PyByteArray_Size(o);
    return 0;
  }
  if (PyUnicode_Check(o)) {
    if (!text) {
      PyErr_Format(PyExc_TypeError, "%s: expected bytes, bytearray or memoryview, not str", what);
      return -1;
    }
#if Py_LIMITED_API + 0 >= 0x030A0000
    b->ptr = (const uint8_t *)PyUnicode_AsUTF8AndSize(o, &b->len);
    return b->ptr ? 0 : -1;
#else
    b->keep = PyUnicode_AsUTF8String(o);
#endif
  } else if (PyLong_Check(o) || PyList_Check(o) || PyTuple_Check(o) || o == Py_None) {
    PyErr_Format(PyExc_TypeError, "%s: expected %sbytes, bytearray or memoryview, not %s", what, text ? "str, " : "",
                 Py_TYPE(o) == &PyLong_Type ? "int" : o == Py_None ? "None" : "a sequence");
    return -1;
  } else {
    b->keep = PyBytes_FromObject(o);
  }
  if (!b->keep) return -1;
  char *p;
  if (PyBytes_AsStringAndSize(b->keep, &p, &b->len) < 0) {
    Py_CLEAR(b->keep);
    return -1;
  }
  b->ptr = (const uint8_t *)p;
  return 0;
}

static void release_input(inbuf *b) { Py_CLEAR(b->keep); }

/* str or bytes header field → latin-1 bytes view (HTTP fields are octets). */
static int get_field(PyObject *o, inbuf *b, const char *what) {
  b->keep = NULL;
  if (PyUnicode_Check(o)) {
    b->keep = PyUnicode_AsLatin1String(o);
    if (!b->keep) return -1;
    char *p;
    if (PyBytes_AsStringAndSize(b->keep, &p, &b->len) < 0) {
      Py_CLEAR(b->keep);
      return -1;
    }
    b->ptr = (const uint8_t *)p;
    return 0;
  }
  return get_input(o, b, 0, what);
}

/* ------------------------------------------------------------------------ */
/* Event value objects                                                      */
/* ------------------------------------------------------------------------ */

/*
 * Every event type shares one layout: up to four fields. The types are immutable (read-only
 * members, no __dict__) and compare and hash by type and fields, like frozen dataclasses,
 * but are created here without running any Python code.
 */
#define EV_MAX_FIELDS 4
typedef struct {
  PyObject_HEAD
  PyObject *f[EV_MAX_FIELDS];
  int kind;
} EvObject;

typedef enum { F_STR, F_OPT_STR, F_BYTES, F_BOOL, F_INT, F_STR_TUPLE, F_HEADERS } field_type;

typedef struct {
  const char *name;
  field_type type;
  const char *deflt; /* NULL: required; otherwise "" / "None" / "True" / "0" / "()" */
} field_info;

typedef struct {
  const char *name;
  const char *doc;
  int nfields;
  field_info fields[EV_MAX_FIELDS];
  int message; /* a subclass of Message */
} kind_info;

static const kind_info KINDS[K_COUNT] = {
    [K_REQUEST] = {"Request",
                   "Request(target, headers=(), subprotocols=(), extensions=())\n--\n\n"
                   "A WebSocket upgrade request arrived (server role): answer it with accept() or reject().\n"
                   "headers: (name, value) pairs, names lower-cased, latin-1 text; subprotocols: offered\n"
                   "names in the client's order; extensions: offered extensions as written (pushwire\n"
                   "accepts none). A client may send(Request(...)) to start its handshake; the Host\n"
                   "header then names the host.",
                   4,
                   {{"target", F_STR, NULL},
                    {"headers", F_HEADERS, "()"},
                    {"subprotocols", F_STR_TUPLE, "()"},
                    {"extensions", F_STR_TUPLE, "()"}},
                   0},
    [K_ACCEPTED] = {"Accepted",
                    "Accepted(subprotocol=None)\n--\n\n"
                    "The opening handshake completed (client role; server role with auto_accept);\n"
                    "subprotocol is the one agreed on, or None. A server may send(Accepted(...)) to accept.",
                    1,
                    {{"subprotocol", F_OPT_STR, "None"}},
                    0},
    [K_REJECTED] = {"Rejected",
                    "Rejected(status, reason='')\n--\n\n"
                    "The opening handshake failed. Client role: the server answered with HTTP `status`\n"
                    "(101 for an invalid 101, 0 for a response that was not HTTP). Server role: the request\n"
                    "was invalid and the `status` response is queued (auto_close). A server may\n"
                    "send(Rejected(status, reason)) to refuse a request with `reason` as the body.",
                    2,
                    {{"status", F_INT, NULL}, {"reason", F_STR, "''"}},
                    0},
    [K_TEXT] = {"TextMessage",
                "TextMessage(data, message_finished=True)\n--\n\n"
                "A text message (str). In streaming mode a message arrives in chunks; the last has\n"
                "message_finished=True (a chunk never ends inside a character).",
                2,
                {{"data", F_STR, NULL}, {"message_finished", F_BOOL, "True"}},
                1},
    [K_BYTES] = {"BytesMessage",
                 "BytesMessage(data, message_finished=True)\n--\n\n"
                 "A binary message (bytes). In streaming mode a message arrives in chunks; the last\n"
                 "has message_finished=True.",
                 2,
                 {{"data", F_BYTES, NULL}, {"message_finished", F_BOOL, "True"}},
                 1},
    [K_PING] = {"Ping",
                "Ping(payload=b'')\n--\n\n"
                "A ping arrived (with auto_pong, the pong is already queued). response() gives the Pong.",
                1,
                {{"payload", F_BYTES, "b''"}},
                0},
    [K_PONG] = {"Pong", "Pong(payload=b'')\n--\n\nA pong arrived.", 1, {{"payload", F_BYTES, "b''"}}, 0},
    [K_CLOSE] = {"CloseConnection",
                 "CloseConnection(code=1000, reason='')\n--\n\n"
                 "The receive side closed: the peer's close code (1005 when it sent none) and reason;\n"
                 "1006 when input ended or the keepalive timed out; or the code pushwire failed the\n"
                 "connection with (1002, 1007, 1008, 1009; its close frame is queued with auto_close).\n"
                 "With auto_close the answering close is already queued. response() gives the echo.",
                 2,
                 {{"code", F_INT, "1000"}, {"reason", F_STR, "''"}},
                 0},
    [K_SSE_EVENT] = {"ServerSentEvent",
                     "ServerSentEvent(data, type='message', last_event_id='')\n--\n\n"
                     "A dispatched event-stream event: its data (lines joined with LF), its type\n"
                     "('message' unless the stream set one) and the last event ID at that point.",
                     3,
                     {{"data", F_STR, NULL}, {"type", F_STR, "'message'"}, {"last_event_id", F_STR, "''"}},
                     0},
    [K_SSE_RETRY] = {"Retry",
                     "Retry(retry_ms)\n--\n\nThe stream set the reconnection delay (a `retry` field).",
                     1,
                     {{"retry_ms", F_INT, NULL}},
                     0},
    [K_SSE_COMMENT] = {"Comment",
                       "Comment(text)\n--\n\nA comment line (report_comments=True): the text after ':', "
                       "a leading space included.",
                       1,
                       {{"text", F_STR, NULL}},
                       0},
};

static modstate *state_of_type(PyTypeObject *tp) { return (modstate *)PyType_GetModuleState(tp); }

/* A new event of `kind` taking ownership of the field references (NULL fields allowed only on error). */
static PyObject *ev_new(modstate *st, int kind, PyObject *a, PyObject *b, PyObject *c, PyObject *d) {
  PyTypeObject *tp = st->kinds[kind];
  EvObject *e = (EvObject *)PyType_GenericAlloc(tp, 0);
  if (!e) {
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    Py_XDECREF(d);
    return NULL;
  }
  e->f[0] = a;
  e->f[1] = b;
  e->f[2] = c;
  e->f[3] = d;
  e->kind = kind;
  if ((!a && KINDS[kind].nfields > 0) || (!b && KINDS[kind].nfields > 1) || (!c && KINDS[kind].nfields > 2) ||
      (!d && KINDS[kind].nfields > 3)) {
    Py_DECREF(e);
    return NULL;
  }
  return (PyObject *)e;
}

static void ev_dealloc(EvObject *self) {
  PyTypeObject *tp = Py_TYPE(self);
  for (int i = 0; i < EV_MAX_FIELDS; ++i) Py_CLEAR(self->f[i]);
  freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  tp_free(self);
  Py_DECREF(tp);
}

static PyObject *to_str_tuple(PyObject *o, const char *what) {
  if (PyUnicode_Check(o)) {
    PyErr_Format(PyExc_TypeError, "%s must be a sequence of str, not a str", what);
    return NULL;
  }
  PyObject *t = PySequence_Tuple(o);
  if (!t) return NULL;
  Py_ssize_t n = PyTuple_Size(t);
  for (Py_ssize_t i = 0; i < n; ++i)
    if (!PyUnicode_Check(PyTuple_GetItem(t, i))) {
      PyErr_Format(PyExc_TypeError, "%s must hold str items", what);
      Py_DECREF(t);
      return NULL;
    }
  return t;
}

static PyObject *field_text(PyObject *o, const char *what) {
  if (PyUnicode_Check(o)) {
    Py_INCREF(o);
    return o;
  }
  if (PyBytes_Check(o)) return PyUnicode_FromEncodedObject(o, "latin-1", "strict");
  PyErr_Format(PyExc_TypeError, "%s must be str or bytes", what);
  return NULL;
}

/* Headers: any iterable of (name, value) pairs of str or bytes → tuple of (str, str). */
static PyObject *to_headers(PyObject *o) {
  PyObject *seq = PySequence_Tuple(o);
  if (!seq) return NULL;
  Py_ssize_t n = PyTuple_Size(seq);
  PyObject *out = PyTuple_New(n);
  for (Py_ssize_t i = 0; out && i < n; ++i) {
    PyObject *pair = PySequence_Tuple(PyTuple_GetItem(seq, i));
    if (!pair || PyTuple_Size(pair) != 2) {
      if (pair) PyErr_SetString(PyExc_TypeError, "headers must be (name, value) pairs");
      Py_XDECREF(pair);
      Py_CLEAR(out);
      break;
    }
    PyObject *name = field_text(PyTuple_GetItem(pair, 0), "a header name");
    PyObject *value = name ? field_text(PyTuple_GetItem(pair, 1), "a header value") : NULL;
    Py_DECREF(pair);
    if (!value) {
      Py_XDECREF(name);
      Py_CLEAR(out);
      break;
    }
    PyObject *t = PyTuple_Pack(2, name, value);
    Py_DECREF(name);
    Py_DECREF(value);
    if (!t) {
      Py_CLEAR(out);
      break;
    }
    PyTuple_SetItem(out, i, t);
  }
  Py_DECREF(seq);
  return out;
}

/* Checks and normalizes one constructor argument (NULL: use the default). */
static PyObject *convert_field(const field_info *fi, PyObject *v) {
  if (!v) {
    switch (fi->type) {
      case F_OPT_STR: Py_RETURN_NONE;
      case F_BOOL: Py_RETURN_TRUE;
      case F_INT: return PyLong_FromLong(fi->deflt[0] == '1' ? 1000 : 0);
      case F_BYTES: return PyBytes_FromStringAndSize(NULL, 0);
      case F_STR: return PyUnicode_FromString(strcmp(fi->deflt, "'message'") == 0 ? "message" : "");
      case F_STR_TUPLE:
      case F_HEADERS: return PyTuple_New(0);
    }
  }
  switch (fi->type) {
    case F_STR:
      if (!PyUnicode_Check(v)) return PyErr_Format(PyExc_TypeError, "%s must be str", fi->name);
      Py_INCREF(v);
      return v;
    case F_OPT_STR:
      if (v != Py_None && !PyUnicode_Check(v)) return PyErr_Format(PyExc_TypeError, "%s must be str or None", fi->name);
      Py_INCREF(v);
      return v;
    case F_BYTES:
      if (PyBytes_Check(v)) {
        Py_INCREF(v);
        return v;
      }
      if (PyUnicode_Check(v) || PyLong_Check(v))
        return PyErr_Format(PyExc_TypeError, "%s must be bytes-like", fi->name);
      return PyBytes_FromObject(v);
    case F_BOOL: {
      int t = PyObject_IsTrue(v);
      if (t < 0) return NULL;
      return PyBool_FromLong(t);
    }
    case F_INT:
      if (!PyLong_Check(v)) return PyErr_Format(PyExc_TypeError, "%s must be int", fi->name);
      Py_INCREF(v);
      return v;
    case F_STR_TUPLE: return to_str_tuple(v, fi->name);
    case F_HEADERS: return to_headers(v);
  }
  return NULL;
}

static PyObject *ev_new_generic(PyTypeObject *type, PyObject *args, PyObject *kwds, int kind) {
  const kind_info *ki = &KINDS[kind];
  Py_ssize_t nargs = PyTuple_Size(args);
  if (nargs > ki->nfields)
    return PyErr_Format(PyExc_TypeError, "%s() takes at most %d positional arguments (%zd given)", ki->name,
                        ki->nfields, nargs);
  PyObject *vals[EV_MAX_FIELDS] = {NULL, NULL, NULL, NULL};
  for (Py_ssize_t i = 0; i < nargs; ++i) vals[i] = PyTuple_GetItem(args, i);
  if (kwds) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
      int found = -1;
      for (int i = 0; i < ki->nfields; ++i)
        if (PyUnicode_CompareWithASCIIString(key, ki->fields[i].name) == 0) found = i;
      if (found < 0) return PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument %R", ki->name, key);
      if (vals[found])
        return PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", ki->name,
                            ki->fields[found].name);
      vals[found] = value;
    }
  }
  EvObject *e = (EvObject *)PyType_GenericAlloc(type, 0);
  if (!e) return NULL;
  e->kind = kind;
  for (int i = 0; i < ki->nfields; ++i) {
    if (!vals[i] && !ki->fields[i].deflt) {
      Py_DECREF(e);
      return PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", ki->name, ki->fields[i].name);
    }
    e->f[i] = convert_field(&ki->fields[i], vals[i]);
    if (!e->f[i]) {
      Py_DECREF(e);
      return NULL;
    }
  }
  return (PyObject *)e;
}

#define EV_NEW_FN(kind)                                                                   \
  static PyObject *ev_new_##kind(PyTypeObject *type, PyObject *args, PyObject *kwds) { \
    return ev_new_generic(type, args, kwds, kind);                                     \
  }
EV_NEW_FN(K_REQUEST)
EV_NEW_FN(K_ACCEPTED)
EV_NEW_FN(K_REJECTED)
EV_NEW_FN(K_TEXT)
EV_NEW_FN(K_BYTES)
EV_NEW_FN(K_PING)
EV_NEW_FN(K_PONG)
EV_NEW_FN(K_CLOSE)
EV_NEW_FN(K_SSE_EVENT)
EV_NEW_FN(K_SSE_RETRY)
EV_NEW_FN(K_SSE_COMMENT)

static newfunc const KIND_NEW[K_COUNT] = {
    ev_new_K_REQUEST, ev_new_K_ACCEPTED, ev_new_K_REJECTED,  ev_new_K_TEXT,        ev_new_K_BYTES,      ev_new_K_PING,
    ev_new_K_PONG,    ev_new_K_CLOSE,    ev_new_K_SSE_EVENT, ev_new_K_SSE_RETRY, ev_new_K_SSE_COMMENT,
};

static PyObject *ev_abstract_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  (void)args;
  (void)kwds;
  PyObject *name = PyObject_GetAttrString((PyObject *)type, "__name__");
  if (name) {
    PyErr_Format(PyExc_TypeError, "%U is an abstract event type; create a concrete event", name);
    Py_DECREF(name);
  }
  return NULL;
}

static PyObject *ev_repr(EvObject *self) {
  const kind_info *ki = &KINDS[self->kind];
  PyObject *parts = PyList_New(0);
  if (!parts) return NULL;
  for (int i = 0; i < ki->nfields; ++i) {
    PyObject *s = PyUnicode_FromFormat("%s=%R", ki->fields[i].name, self->f[i]);
    if (!s || PyList_Append(parts, s) < 0) {
      Py_XDECREF(s);
      Py_DECREF(parts);
      return NULL;
    }
    Py_DECREF(s);
  }
  PyObject *sep = PyUnicode_FromString(", ");
  PyObject *body = sep ? PyUnicode_Join(sep, parts) : NULL;
  Py_XDECREF(sep);
  Py_DECREF(parts);
  if (!body) return NULL;
  PyObject *r = PyUnicode_FromFormat("%s(%U)", ki->name, body);
  Py_DECREF(body);
  return r;
}

static PyObject *ev_richcompare(EvObject *self, PyObject *other, int op) {
  if ((op != Py_EQ && op != Py_NE) || Py_TYPE(other) != Py_TYPE(self)) Py_RETURN_NOTIMPLEMENTED;
  EvObject *o = (EvObject *)other;
  int eq = 1;
  for (int i = 0; eq && i < KINDS[self->kind].nfields; ++i) {
    int r = PyObject_RichCompareBool(self->f[i], o->f[i], Py_EQ);
    if (r < 0) return NULL;
    eq = r;
  }
  return PyBool_FromLong(op == Py_EQ ? eq : !eq);
}

static PyObject *ev_fields_tuple(EvObject *self) {
  int n = KINDS[self->kind].nfields;
  PyObject *t = PyTuple_New(n);
  if (!t) return NULL;
  for (int i = 0; i < n; ++i) {
    Py_INCREF(self->f[i]);
    PyTuple_SetItem(t, i, self->f[i]);
  }
  return t;
}

static Py_hash_t ev_hash(EvObject *self) {
  PyObject *t = ev_fields_tuple(self);
  if (!t) return -1;
  Py_hash_t h = PyObject_Hash(t);
  Py_DECREF(t);
  if (h == -1) return -1;
  h = (Py_hash_t)((size_t)h ^ ((size_t)(self->kind + 1) * 0x9E3779B1u));
  return h == -1 ? -2 : h;
}

static PyObject *ev_reduce(EvObject *self, PyObject *unused) {
  (void)unused;
  PyObject *t = ev_fields_tuple(self);
  if (!t) return NULL;
  PyObject *r = Py_BuildValue("(ON)", (PyObject *)Py_TYPE(self), t);
  return r;
}

/* Ping.response() → Pong with the same payload; CloseConnection.response() → the echo. */
static PyObject *ev_response(EvObject *self, PyObject *unused) {
  (void)unused;
  modstate *st = state_of_type(Py_TYPE(self));
  if (!st) return NULL;
  Py_INCREF(self->f[0]);
  if (self->kind == K_PING) return ev_new(st, K_PONG, self->f[0], NULL, NULL, NULL);
  Py_INCREF(self->f[1]);
  return ev_new(st, K_CLOSE, self->f[0], self->f[1], NULL, NULL);
}

static PyMethodDef ev_methods[] = {
    {"__reduce__", (PyCFunction)ev_reduce, METH_NOARGS, "Pickle support: the type and its fields."},
    {NULL, NULL, 0, NULL},
};
static PyMethodDef ev_response_methods[] = {
    {"__reduce__", (PyCFunction)ev_reduce, METH_NOARGS, "Pickle support: the type and its fields."},
    {"response", (PyCFunction)ev_response, METH_NOARGS,
     "The event that answers this one: a Pong with the same payload for a Ping, the echoing\n"
     "CloseConnection (same code and reason) for a CloseConnection."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef ev_members[K_COUNT][EV_MAX_FIELDS + 1];

/* The docstring of an event field, by (kind, name). */
static const char *field_doc(int kind, const char *name) {
  static const struct {
    int kind;
    const char *name, *doc;
  } docs[] = {
      {K_REQUEST, "target", "The request target: path and query."},
      {K_REQUEST, "headers", "The request's header fields as (name, value) pairs, names lower-cased."},
      {K_REQUEST, "subprotocols", "The subprotocols the client offered, in its order."},
      {K_REQUEST, "extensions", "The extensions the client offered, as written (none is accepted)."},
      {K_ACCEPTED, "subprotocol", "The agreed subprotocol, or None."},
      {K_REJECTED, "status", "The HTTP status of the refusal (0: the response was not HTTP)."},
      {K_REJECTED, "reason", "Why the handshake failed."},
      {K_CLOSE, "code", "The close code: the peer's (1005: none), 1006 (input ended), or pushwire's failure code."},
      {K_CLOSE, "reason", "The close reason."},
      {K_SSE_EVENT, "data", "The event data, lines joined with LF."},
      {K_SSE_EVENT, "type", "The event type ('message' unless the stream set one)."},
      {K_SSE_EVENT, "last_event_id", "The last event ID when the event was dispatched ('' if none)."},
      {K_SSE_RETRY, "retry_ms", "The reconnection delay in milliseconds."},
      {K_SSE_COMMENT, "text", "The comment text after ':' (a leading space included)."},
  };
  for (size_t i = 0; i < sizeof docs / sizeof docs[0]; ++i)
    if (docs[i].kind == kind && strcmp(docs[i].name, name) == 0) return docs[i].doc;
  if (strcmp(name, "data") == 0) return kind == K_TEXT ? "The text (str)." : "The data (bytes).";
  if (strcmp(name, "message_finished") == 0) return "False for a chunk of a message that continues (streaming mode).";
  if (strcmp(name, "payload") == 0) return "The payload (bytes, at most 125).";
  return NULL;
}

/* Message: the fields TextMessage and BytesMessage share, for code that handles both. */
static PyMemberDef message_members[] = {
    {"data", T_OBJECT_EX, offsetof(EvObject, f), READONLY, "The message data (str or bytes)."},
    {"message_finished", T_OBJECT_EX, offsetof(EvObject, f) + sizeof(PyObject *), READONLY,
     "False for a chunk of a message that continues (streaming mode)."},
    {NULL, 0, 0, 0, NULL},
};

/* Creates the type of one kind (or a base when kind < 0) from a spec built here. */
static PyTypeObject *make_event_type(PyObject *module, const char *qualname, const char *doc, int kind,
                                     PyObject *bases, int basetype) {
  PyType_Slot slots[10];
  int n = 0;
  slots[n++] = (PyType_Slot){Py_tp_doc, (void *)doc};
  slots[n++] = (PyType_Slot){Py_tp_dealloc, (void *)ev_dealloc};
  if (kind >= 0) {
    const kind_info *ki = &KINDS[kind];
    for (int i = 0; i < ki->nfields; ++i)
      ev_members[kind][i] = (PyMemberDef){(char *)ki->fields[i].name, T_OBJECT_EX,
                                          (Py_ssize_t)offsetof(EvObject, f) + i * (Py_ssize_t)sizeof(PyObject *),
                                          READONLY, field_doc(kind, ki->fields[i].name)};
    ev_members[kind][ki->nfields] = (PyMemberDef){NULL, 0, 0, 0, NULL};
    slots[n++] = (PyType_Slot){Py_tp_members, ev_members[kind]};
    slots[n++] = (PyType_Slot){Py_tp_new, (void *)KIND_NEW[kind]};
    slots[n++] = (PyType_Slot){Py_tp_repr, (void *)ev_repr};
    slots[n++] = (PyType_Slot){Py_tp_richcompare, (void *)ev_richcompare};
    slots[n++] = (PyType_Slot){Py_tp_hash, (void *)ev_hash};
    slots[n++] = (PyType_Slot){Py_tp_methods, (kind == K_PING || kind == K_CLOSE) ? ev_response_methods : ev_methods};
  } else {
    slots[n++] = (PyType_Slot){Py_tp_new, (void *)ev_abstract_new};
    if (basetype == 2) slots[n++] = (PyType_Slot){Py_tp_members, message_members};
  }
  slots[n] = (PyType_Slot){0, NULL};
  PyType_Spec spec = {qualname, (int)sizeof(EvObject), 0,
                      Py_TPFLAGS_DEFAULT | (basetype ? Py_TPFLAGS_BASETYPE : 0), slots};
  /* 3.9 wants a tuple of bases (3.10 also takes a single type). */
  PyObject *base_tuple = bases ? PyTuple_Pack(1, bases) : NULL;
  if (bases && !base_tuple) return NULL;
  PyTypeObject *tp = (PyTypeObject *)PyType_FromModuleAndSpec(module, &spec, base_tuple);
  Py_XDECREF(base_tuple);
  if (!tp || kind < 0) return tp;
  /* __match_args__ for `case TextMessage(data, finished):` */
  const kind_info *ki = &KINDS[kind];
  PyObject *ma = PyTuple_New(ki->nfields);
  for (int i = 0; ma && i < ki->nfields; ++i) {
    PyObject *s = PyUnicode_InternFromString(ki->fields[i].name);
    if (!s) Py_CLEAR(ma);
    else PyTuple_SetItem(ma, i, s);
  }
  if (!ma || PyObject_SetAttrString((PyObject *)tp, "__match_args__", ma) < 0) {
    Py_XDECREF(ma);
    Py_DECREF(tp);
    return NULL;
  }
  Py_DECREF(ma);
  return tp;
}

/* ------------------------------------------------------------------------ */
/* "In use" guard                                                           */
/* ------------------------------------------------------------------------ */

#define ENTER(self, what)                                                                                  \
  do {                                                                                                     \
    if ((self)->busy)                                                                                      \
      return raise_local((self)->st, what,                                                                 \
                         "the object is already in use by another call (two threads, or a re-entrant call " \
                         "from a hook); a handle must be used by one thread at a time");                   \
    (self)->busy = 1;                                                                                      \
  } while (0)
#define LEAVE(self) ((self)->busy = 0)

/* ------------------------------------------------------------------------ */
/* WSConnection                                                             */
/* ------------------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  pushwire_ws *ws;
  modstate *st;
  PyObject *module;  /* keeps st alive */
  PyObject *pending; /* list of events not yet handed out, or NULL */
  PyObject *random;  /* the random hook, or NULL */
  PyObject *random_error; /* the exception the hook raised, kept until reported */
  pushwire_http_request *req; /* server: a copy of the request head, for Request.headers */
  int role;
  int busy;
  int frag_open;  /* a message sent by fragments is under way */
  int recv_error; /* the sticky receive error next_event returned, or 0 */
} ConnObject;

static const struct {
  const char *name;
  pushwire_ws_option option;
} WS_OPTIONS[] = {
    {"max_message_size", PUSHWIRE_WS_OPT_MAX_MESSAGE_SIZE},
    {"max_frame_size", PUSHWIRE_WS_OPT_MAX_FRAME_SIZE},
    {"max_fragments", PUSHWIRE_WS_OPT_MAX_FRAGMENTS},
    {"max_head_size", PUSHWIRE_WS_OPT_MAX_HEAD_SIZE},
    {"max_headers", PUSHWIRE_WS_OPT_MAX_HEADERS},
    {"max_input_buffer", PUSHWIRE_WS_OPT_MAX_INPUT_BUFFER},
    {"max_output_buffer", PUSHWIRE_WS_OPT_MAX_OUTPUT_BUFFER},
    {"auto_pong", PUSHWIRE_WS_OPT_AUTO_PONG},
    {"auto_close", PUSHWIRE_WS_OPT_AUTO_CLOSE},
    {"streaming", PUSHWIRE_WS_OPT_STREAMING},
    {"ping_interval_ms", PUSHWIRE_WS_OPT_PING_INTERVAL_MS},
    {"pong_timeout_ms", PUSHWIRE_WS_OPT_PONG_TIMEOUT_MS},
    {"handshake", PUSHWIRE_WS_OPT_HANDSHAKE},
    {"auto_accept", PUSHWIRE_WS_OPT_AUTO_ACCEPT},
    {"require_origin", PUSHWIRE_WS_OPT_REQUIRE_ORIGIN},
    {"validate_outgoing_utf8", PUSHWIRE_WS_OPT_VALIDATE_OUTGOING_UTF8},
};
#define N_WS_OPTIONS (sizeof WS_OPTIONS / sizeof WS_OPTIONS[0])

static int ws_random_hook(void *user, uint8_t *buf, size_t len) {
  ConnObject *self = (ConnObject *)user;
  if (!self->random || self->random_error) return 1;
  PyObject *r = PyObject_CallFunction(self->random, "n", (Py_ssize_t)len);
  if (r && (!PyBytes_Check(r) || (size_t)PyBytes_Size(r) != len)) {
    PyErr_Format(PyExc_ValueError, "the random hook must return exactly %zd bytes", (Py_ssize_t)len);
    Py_CLEAR(r);
  }
  if (!r) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    self->random_error = value;
    return 1;
  }
  memcpy(buf, PyBytes_AsString(r), len);
  Py_DECREF(r);
  return 0;
}

/* Raises for a failed core call on this connection (with its failure reason and hint). */
static PyObject *conn_raise(ConnObject *self, int rc, const char *what) {
  const char *reason = pushwire_ws_error_reason(self->ws);
  if (!pushwire_error_is_remote(rc)) reason = NULL; /* the reason is the receive side's */
  raise_pw(self->st, rc, what, reason, pushwire_error_is_remote(rc) ? pushwire_ws_close_code_hint(self->ws) : 0);
  if (self->random_error) {
    /* The random hook failed: chain its exception, so the caller sees what went wrong. */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (value) {
      PyException_SetCause(value, self->random_error); /* steals */
      self->random_error = NULL;
    }
    PyErr_Restore(type, value, tb);
  }
  return NULL;
}

static PyObject *span_str(pushwire_span s) {
  return PyUnicode_DecodeUTF8((const char *)s.ptr, (Py_ssize_t)s.len, "replace");
}
static PyObject *span_bytes(pushwire_span s) {
  return PyBytes_FromStringAndSize((const char *)s.ptr, (Py_ssize_t)s.len);
}
static PyObject *span_latin1(pushwire_span s) {
  return PyUnicode_DecodeLatin1((const char *)s.ptr, (Py_ssize_t)s.len, NULL);
}

/* The Request event: target, then headers from the head copy, offered subprotocols and extensions. */
static PyObject *build_request(ConnObject *self, pushwire_span target) {
  PyObject *t = span_str(target);
  PyObject *headers = PyList_New(0);
  PyObject *subs = PyList_New(0);
  PyObject *exts = PyList_New(0);
  if (!t || !headers || !subs || !exts) goto fail;
  if (self->req) {
    int n = pushwire_http_request_header_count(self->req);
    for (int i = 0; i < n; ++i) {
      pushwire_span name, value;
      if (pushwire_http_request_header_at(self->req, (size_t)i, &name, &value) != 1) break;
      PyObject *nm = span_latin1(name);
      PyObject *lower = nm ? PyObject_CallMethod(nm, "lower", NULL) : NULL;
      Py_XDECREF(nm);
      PyObject *v = lower ? span_latin1(value) : NULL;
      PyObject *pair = v ? PyTuple_Pack(2, lower, v) : NULL;
      Py_XDECREF(lower);
      Py_XDECREF(v);
      if (!pair || PyList_Append(headers, pair) < 0) {
        Py_XDECREF(pair);
        goto fail;
      }
      Py_DECREF(pair);
    }
  }
  for (size_t i = 0;; ++i) {
    pushwire_span name;
    if (pushwire_ws_request_subprotocol(self->ws, i, &name) != 1) break;
    PyObject *s = span_str(name);
    if (!s || PyList_Append(subs, s) < 0) {
      Py_XDECREF(s);
      goto fail;
    }
    Py_DECREF(s);
  }
  for (size_t i = 0;; ++i) {
    pushwire_span name, params;
    if (pushwire_ws_request_extension(self->ws, i, &name, &params) != 1) break;
    PyObject *s = span_str(name);
    if (s && params.len) {
      PyObject *p = span_str(params);
      PyObject *joined = p ? PyUnicode_FromFormat("%U; %U", s, p) : NULL;
      Py_XDECREF(p);
      Py_DECREF(s);
      s = joined;
    }
    if (!s || PyList_Append(exts, s) < 0) {
      Py_XDECREF(s);
      goto fail;
    }
    Py_DECREF(s);
  }
  PyObject *ht = PyList_AsTuple(headers), *st = PyList_AsTuple(subs), *et = PyList_AsTuple(exts);
  Py_DECREF(headers);
  Py_DECREF(subs);
  Py_DECREF(exts);
  return ev_new(self->st, K_REQUEST, t, ht, st, et);
fail:
  Py_XDECREF(t);
  Py_XDECREF(headers);
  Py_XDECREF(subs);
  Py_XDECREF(exts);
  return NULL;
}

/*
 * Pulls every available event into self->pending. The whole loop is C: one Python-level
 * call feeds a whole read, however many frames it holds. Returns 0, or -1 with an exception
 * (fatal errors; a receive failure is an event followed by a sticky code, which ends the loop).
 */
static int conn_drain(ConnObject *self) {
  modstate *st = self->st;
  pushwire_ws_event ev;
  int rc;
  if (!self->pending) {
    self->pending = PyList_New(0);
    if (!self->pending) return -1;
  }
  PyObject *pending = self->pending;
  while ((rc = pushwire_ws_next_event(self->ws, &ev)) == 1) {
    PyObject *o;
    switch (ev.type) {
      case PUSHWIRE_WS_EV_TEXT: {
        PyObject *fin = (ev.flags & PUSHWIRE_WS_EVF_FIN) ? Py_True : Py_False;
        Py_INCREF(fin);
        o = ev_new(st, K_TEXT, PyUnicode_DecodeUTF8((const char *)ev.data.ptr, (Py_ssize_t)ev.data.len, NULL), fin,
                   NULL, NULL);
        break;
      }
      case PUSHWIRE_WS_EV_BINARY: {
        PyObject *fin = (ev.flags & PUSHWIRE_WS_EVF_FIN) ? Py_True : Py_False;
        Py_INCREF(fin);
        o = ev_new(st, K_BYTES, span_bytes(ev.data), fin, NULL, NULL);
        break;
      }
      case PUSHWIRE_WS_EV_PING: o = ev_new(st, K_PING, span_bytes(ev.data), NULL, NULL, NULL); break;
      case PUSHWIRE_WS_EV_PONG: o = ev_new(st, K_PONG, span_bytes(ev.data), NULL, NULL, NULL); break;
      case PUSHWIRE_WS_EV_CLOSE:
        o = ev_new(st, K_CLOSE, PyLong_FromLong((long)ev.code), span_str(ev.data), NULL, NULL);
        break;
      case PUSHWIRE_WS_EV_ACCEPTED:
        if (ev.data.len) {
          o = ev_new(st, K_ACCEPTED, span_str(ev.data), NULL, NULL, NULL);
        } else {
          Py_INCREF(Py_None);
          o = ev_new(st, K_ACCEPTED, Py_None, NULL, NULL, NULL);
        }
        break;
      case PUSHWIRE_WS_EV_REJECTED:
        o = ev_new(st, K_REJECTED, PyLong_FromLong((long)ev.code), span_str(ev.data), NULL, NULL);
        break;
      case PUSHWIRE_WS_EV_REQUEST: o = build_request(self, ev.data); break;
      default: continue; /* a newer core's event type: skipped, as the header asks */
    }
    if (!o) return -1;
    int bad = PyList_Append(pending, o);
    Py_DECREF(o);
    if (bad) return -1;
  }
  if (self->req && pushwire_ws_get_state(self->ws) != PUSHWIRE_WS_STATE_HANDSHAKE) {
    pushwire_http_request_free(self->req);
    self->req = NULL;
  }
  if (rc < 0 && pushwire_error_is_fatal(rc)) {
    conn_raise(self, rc, "receive_data");
    return -1;
  }
  if (rc < 0) self->recv_error = rc;
  return 0;
}

static int set_ws_option(ConnObject *self, pushwire_ws_option opt, const char *name, PyObject *v) {
  unsigned long long x;
  if (PyBool_Check(v)) {
    x = v == Py_True;
  } else if (PyLong_Check(v)) {
    x = PyLong_AsUnsignedLongLong(v);
    if (x == (unsigned long long)-1 && PyErr_Occurred()) {
      PyErr_Clear();
      PyErr_Format(PyExc_ValueError, "%s must be a non-negative int below 2**64", name);
      return -1;
    }
  } else {
    PyErr_Format(PyExc_TypeError, "%s must be int or bool, not %s", name, Py_TYPE(v) == &PyUnicode_Type ? "str" : "object");
    return -1;
  }
  int rc = pushwire_ws_set_option(self->ws, opt, (uint64_t)x);
  if (rc < 0) {
    PyObject *msg = PyUnicode_FromFormat("option %s=%llu", name, x);
    if (msg) {
      raise_pw_obj(self->st, rc, msg, NULL, 0);
      Py_DECREF(msg);
    }
    return -1;
  }
  return 0;
}

/* Calls add(ws, ptr, len) for each str/bytes item of `items`. */
static int add_each(ConnObject *self, PyObject *items, int (*add)(pushwire_ws *, const char *, size_t),
                    const char *what) {
  if (!items || items == Py_None) return 0;
  if (PyUnicode_Check(items) || PyBytes_Check(items)) {
    PyErr_Format(PyExc_TypeError, "%s must be a sequence of str, not a single string", what);
    return -1;
  }
  PyObject *it = PyObject_GetIter(items);
  if (!it) return -1;
  PyObject *item;
  while ((item = PyIter_Next(it))) {
    inbuf b;
    int rc = get_field(item, &b, what);
    if (rc == 0) {
      rc = add(self->ws, (const char *)b.ptr, (size_t)b.len);
      if (rc < 0) {
        PyObject *msg = PyUnicode_FromFormat("%s %R", what, item);
        if (msg) raise_pw_obj(self->st, rc, msg, NULL, 0);
        Py_XDECREF(msg);
      }
      release_input(&b);
    }
    Py_DECREF(item);
    if (rc < 0) {
      Py_DECREF(it);
      return -1;
    }
  }
  Py_DECREF(it);
  return PyErr_Occurred() ? -1 : 0;
}

static int add_headers(ConnObject *self, PyObject *headers) {
  if (!headers || headers == Py_None) return 0;
  PyObject *h = to_headers(headers);
  if (!h) return -1;
  Py_ssize_t n = PyTuple_Size(h);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject *pair = PyTuple_GetItem(h, i);
    inbuf nb, vb;
    if (get_field(PyTuple_GetItem(pair, 0), &nb, "header name") < 0) goto fail;
    if (get_field(PyTuple_GetItem(pair, 1), &vb, "header value") < 0) {
      release_input(&nb);
      goto fail;
    }
    int rc = pushwire_ws_add_header(self->ws, (const char *)nb.ptr, (size_t)nb.len, (const char *)vb.ptr,
                                    (size_t)vb.len);
    release_input(&nb);
    release_input(&vb);
    if (rc < 0) {
      PyObject *msg = PyUnicode_FromFormat("header %R", pair);
      if (msg) raise_pw_obj(self->st, rc, msg, NULL, 0);
      Py_XDECREF(msg);
      goto fail;
    }
  }
  Py_DECREF(h);
  return 0;
fail:
  Py_DECREF(h);
  return -1;
}

static int conn_start(ConnObject *self, PyObject *host, PyObject *target) {
  inbuf hb, tb;
  if (get_field(host, &hb, "host") < 0) return -1;
  if (get_field(target, &tb, "target") < 0) {
    release_input(&hb);
    return -1;
  }
  int rc = pushwire_ws_client_start(self->ws, (const char *)hb.ptr, (size_t)hb.len, (const char *)tb.ptr,
                                    (size_t)tb.len);
  release_input(&hb);
  release_input(&tb);
  if (rc < 0) {
    conn_raise(self, rc, "client start (host and target)");
    return -1;
  }
  return 0;
}

static PyObject *find_module(PyTypeObject *type) {
  PyObject *mro = PyObject_GetAttrString((PyObject *)type, "__mro__");
  if (!mro) return NULL;
  Py_ssize_t n = PyTuple_Size(mro);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject *t = PyTuple_GetItem(mro, i);
    PyObject *m = PyType_GetModule((PyTypeObject *)t);
    if (m && PyModule_GetDef(m) == &pushwire_module) {
      Py_INCREF(m);
      Py_DECREF(mro);
      return m;
    }
    PyErr_Clear();
  }
  Py_DECREF(mro);
  PyErr_SetString(PyExc_TypeError, "not a pushwire WSConnection type");
  return NULL;
}

static PyObject *conn_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  (void)args;
  (void)kwds;
  PyObject *module = find_module(type);
  if (!module) return NULL;
  allocfunc alloc = (allocfunc)PyType_GetSlot(type, Py_tp_alloc);
  ConnObject *self = (ConnObject *)alloc(type, 0);
  if (!self) {
    Py_DECREF(module);
    return NULL;
  }
  self->module = module;
  self->st = (modstate *)PyModule_GetState(module);
  self->role = -1;
  return (PyObject *)self;
}

static int conn_init(ConnObject *self, PyObject *args, PyObject *kwds) {
  if (self->ws) {
    PyErr_SetString(PyExc_TypeError, "WSConnection.__init__ may be called only once");
    return -1;
  }
  PyObject *role = NULL;
  if (PyTuple_Size(args) > 1 || (PyTuple_Size(args) == 0 && !(kwds && PyDict_GetItemString(kwds, "role")))) {
    PyErr_SetString(PyExc_TypeError, "WSConnection() takes one positional argument, the role ('server' or 'client')");
    return -1;
  }
  role = PyTuple_Size(args) == 1 ? PyTuple_GetItem(args, 0) : PyDict_GetItemString(kwds, "role");
  int r = -1;
  if (PyUnicode_Check(role)) {
    if (PyUnicode_CompareWithASCIIString(role, "server") == 0) r = PUSHWIRE_WS_SERVER;
    if (PyUnicode_CompareWithASCIIString(role, "client") == 0) r = PUSHWIRE_WS_CLIENT;
  } else if (PyLong_Check(role)) {
    long v = PyLong_AsLong(role);
    if (v == PUSHWIRE_WS_SERVER || v == PUSHWIRE_WS_CLIENT) r = (int)v;
  }
  if (r < 0) {
    PyErr_Format(PyExc_ValueError, "role must be 'server' or 'client', not %R", role);
    return -1;
  }
  int rc = pushwire_ws_new(&self->ws, (pushwire_ws_role)r, &pw_alloc);
  if (rc < 0) {
    raise_pw(self->st, rc, "WSConnection()", NULL, 0);
    return -1;
  }
  self->role = r;
  PyObject *subprotocols = NULL, *origins = NULL, *extra_headers = NULL, *host = NULL, *target = NULL;
  if (kwds) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
      if (!PyUnicode_Check(key)) continue;
      if (PyUnicode_CompareWithASCIIString(key, "role") == 0) continue;
      if (value == Py_None) continue; /* None: keep the default */
      if (PyUnicode_CompareWithASCIIString(key, "subprotocols") == 0) subprotocols = value;
      else if (PyUnicode_CompareWithASCIIString(key, "origins") == 0) origins = value;
      else if (PyUnicode_CompareWithASCIIString(key, "extra_headers") == 0) extra_headers = value;
      else if (PyUnicode_CompareWithASCIIString(key, "host") == 0) host = value;
      else if (PyUnicode_CompareWithASCIIString(key, "target") == 0) target = value;
      else if (PyUnicode_CompareWithASCIIString(key, "random") == 0) {
        if (!PyCallable_Check(value)) {
          PyErr_SetString(PyExc_TypeError, "random must be a callable taking n and returning n bytes");
          return -1;
        }
        Py_INCREF(value);
        Py_XDECREF(self->random);
        self->random = value;
        pushwire_ws_set_random(self->ws, ws_random_hook, self);
      } else {
        size_t i;
        for (i = 0; i < N_WS_OPTIONS; ++i)
          if (PyUnicode_CompareWithASCIIString(key, WS_OPTIONS[i].name) == 0) break;
        if (i == N_WS_OPTIONS) {
          PyErr_Format(PyExc_TypeError, "WSConnection() got an unexpected keyword argument %R", key);
          return -1;
        }
        if (set_ws_option(self, WS_OPTIONS[i].option, WS_OPTIONS[i].name, value) < 0) return -1;
      }
    }
  }
  if (origins && add_each(self, origins, pushwire_ws_add_origin, "origin") < 0) return -1;
  if (subprotocols && add_each(self, subprotocols, pushwire_ws_add_subprotocol, "subprotocol") < 0) return -1;
  if (extra_headers && add_headers(self, extra_headers) < 0) return -1;
  if (target && !host) {
    PyErr_SetString(PyExc_TypeError, "target given without host");
    return -1;
  }
  if (host) {
    if (r != PUSHWIRE_WS_CLIENT) {
      PyErr_SetString(PyExc_TypeError, "host is for the client role");
      return -1;
    }
    PyObject *slash = NULL;
    if (!target) target = slash = PyUnicode_FromString("/");
    int bad = !target || conn_start(self, host, target) < 0;
    Py_XDECREF(slash);
    if (bad) return -1;
  }
  return 0;
}

static int conn_traverse(ConnObject *self, visitproc visit, void *arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(self->module);
  Py_VISIT(self->random);
  Py_VISIT(self->random_error);
  Py_VISIT(self->pending);
  return 0;
}

static int conn_clear(ConnObject *self) {
  Py_CLEAR(self->random);
  Py_CLEAR(self->random_error);
  Py_CLEAR(self->pending);
  return 0;
}

static void conn_dealloc(ConnObject *self) {
  PyTypeObject *tp = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  pushwire_ws_free(self->ws);
  pushwire_http_request_free(self->req);
  conn_clear(self);
  Py_CLEAR(self->module);
  freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  tp_free(self);
  Py_DECREF(tp);
}

#define CHECK_WS(self)                                                                  \
  do {                                                                                  \
    if (!(self)->ws) {                                                                  \
      PyErr_SetString(PyExc_TypeError, "WSConnection.__init__ was not called");         \
      return NULL;                                                                      \
    }                                                                                   \
  } while (0)

static PyObject *conn_receive_data(ConnObject *self, PyObject *data) {
  CHECK_WS(self);
  ENTER(self, "receive_data");
  int rc;
  if (data == Py_None) {
    rc = pushwire_ws_feed_eof(self->ws);
  } else {
    inbuf b;
    /* A random hook is Python code run inside the feed (a client's pong is masked): it could
       resize a bytearray being read, so then the input is read from an immutable copy. */
    PyObject *copy = NULL;
    if (self->random && !PyBytes_Check(data) && !PyUnicode_Check(data)) {
      copy = PyBytes_FromObject(data);
      if (!copy) {
        LEAVE(self);
        return NULL;
      }
    }
    rc = get_input(copy ? copy : data, &b, 0, "receive_data");
    if (rc < 0) {
      Py_XDECREF(copy);
      LEAVE(self);
      return NULL;
    }
    if (copy) b.keep = copy; /* a bytes is read in place: release_input drops it */
    if (self->role == PUSHWIRE_WS_SERVER && pushwire_ws_get_state(self->ws) == PUSHWIRE_WS_STATE_HANDSHAKE) {
      /* A copy of the head for Request.headers (the handle offers lookups by name only). */
      if (!self->req && pushwire_http_request_new(&self->req, &pw_alloc) == 0) {
        uint64_t v;
        if (pushwire_ws_get_option(self->ws, PUSHWIRE_WS_OPT_MAX_HEAD_SIZE, &v) == 0)
          pushwire_http_request_set_option(self->req, PUSHWIRE_HTTP_OPT_MAX_HEAD_SIZE, v);
        if (pushwire_ws_get_option(self->ws, PUSHWIRE_WS_OPT_MAX_HEADERS, &v) == 0)
          pushwire_http_request_set_option(self->req, PUSHWIRE_HTTP_OPT_MAX_HEADERS, v);
      }
      if (self->req) pushwire_http_request_feed(self->req, b.ptr, (size_t)b.len, NULL);
    }
    rc = pushwire_ws_feed(self->ws, b.ptr, (size_t)b.len);
    release_input(&b);
  }
  if (rc < 0) {
    /* Events that came before a failure are still delivered through events(). */
    if (!pushwire_error_is_fatal(rc)) conn_drain(self);
    PyErr_Clear();
    LEAVE(self);
    return conn_raise(self, rc, data == Py_None ? "receive_data(None)" : "receive_data");
  }
  rc = conn_drain(self);
  LEAVE(self);
  if (rc < 0) return NULL;
  Py_RETURN_NONE;
}

static PyObject *conn_events(ConnObject *self, PyObject *unused) {
  (void)unused;
  CHECK_WS(self);
  PyObject *list = self->pending;
  if (!list) {
    list = PyList_New(0);
    if (!list) return NULL;
  } else {
    self->pending = NULL;
  }
  PyObject *it = PyObject_GetIter(list);
  Py_DECREF(list);
  return it;
}

static PyObject *conn_data_to_send(ConnObject *self, PyObject *unused) {
  (void)unused;
  CHECK_WS(self);
  ENTER(self, "data_to_send");
  pushwire_span s;
  size_t n = pushwire_ws_peek_output(self->ws, &s);
  PyObject *r = PyBytes_FromStringAndSize((const char *)s.ptr, (Py_ssize_t)n);
  if (r && n) pushwire_ws_consume_output(self->ws, n);
  LEAVE(self);
  return r;
}

/* The result of a send call: None, or an exception. */
static PyObject *conn_done(ConnObject *self, int rc, const char *what) {
  LEAVE(self);
  if (rc < 0) return conn_raise(self, rc, what);
  Py_RETURN_NONE;
}

static int send_message(ConnObject *self, PyObject *data, int binary, int fin, const char *what) {
  inbuf b;
  if (get_input(data, &b, !binary, what) < 0) return PUSHWIRE_ERR_OK + 1; /* Python error set */
  int rc;
  if (fin && !self->frag_open) {
    rc = binary ? pushwire_ws_send_binary(self->ws, b.ptr, (size_t)b.len)
                : pushwire_ws_send_text(self->ws, b.ptr, (size_t)b.len);
  } else {
    rc = pushwire_ws_send_fragment(self->ws, binary != 0, b.ptr, (size_t)b.len, fin != 0);
    if (rc == 0) self->frag_open = !fin;
  }
  release_input(&b);
  return rc;
}

static PyObject *conn_send_common(ConnObject *self, PyObject *args, PyObject *kwds, int binary) {
  static char *kwlist[] = {"data", "message_finished", NULL};
  const char *what = binary ? "send_bytes" : "send_text";
  PyObject *data;
  int fin = 1;
  CHECK_WS(self);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, binary ? "O|p:send_bytes" : "O|p:send_text", kwlist, &data, &fin))
    return NULL;
  if (binary && PyUnicode_Check(data)) {
    PyErr_SetString(PyExc_TypeError, "send_bytes: expected bytes, bytearray or memoryview, not str (use send_text)");
    return NULL;
  }
  ENTER(self, what);
  int rc = send_message(self, data, binary, fin, what);
  if (rc == PUSHWIRE_ERR_OK + 1) {
    LEAVE(self);
    return NULL;
  }
  return conn_done(self, rc, what);
}

static PyObject *conn_send_text(ConnObject *self, PyObject *args, PyObject *kwds) {
  return conn_send_common(self, args, kwds, 0);
}
static PyObject *conn_send_bytes(ConnObject *self, PyObject *args, PyObject *kwds) {
  return conn_send_common(self, args, kwds, 1);
}

static PyObject *conn_control(ConnObject *self, PyObject *args, int pong) {
  PyObject *payload = NULL;
  const char *what = pong ? "pong" : "ping";
  CHECK_WS(self);
  if (!PyArg_ParseTuple(args, pong ? "|O:pong" : "|O:ping", &payload)) return NULL;
  inbuf b = {NULL, 0, NULL};
  if (payload && get_input(payload, &b, 1, what) < 0) return NULL;
  if (self->busy) release_input(&b);
  ENTER(self, what);
  int rc = pong ? pushwire_ws_pong(self->ws, b.ptr, (size_t)b.len) : pushwire_ws_ping(self->ws, b.ptr, (size_t)b.len);
  release_input(&b);
  return conn_done(self, rc, what);
}
static PyObject *conn_ping(ConnObject *self, PyObject *args) { return conn_control(self, args, 0); }
static PyObject *conn_pong(ConnObject *self, PyObject *args) { return conn_control(self, args, 1); }

static int do_close(ConnObject *self, PyObject *code, PyObject *reason) {
  long c = 1000;
  if (code == Py_None) {
    c = 0;
  } else if (code) {
    c = PyLong_AsLong(code);
    if (c == -1 && PyErr_Occurred()) return PUSHWIRE_ERR_OK + 1;
    if (c < 0 || c > 65535) {
      PyErr_Format(PyExc_ValueError, "close: code %ld is not a 16-bit close code", c);
      return PUSHWIRE_ERR_OK + 1;
    }
  }
  inbuf b = {NULL, 0, NULL};
  if (reason && reason != Py_None && get_input(reason, &b, 1, "close reason") < 0) return PUSHWIRE_ERR_OK + 1;
  int rc = pushwire_ws_close(self->ws, (uint16_t)c, (const char *)b.ptr, (size_t)b.len);
  release_input(&b);
  return rc;
}

static PyObject *conn_close(ConnObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"code", "reason", NULL};
  PyObject *code = NULL, *reason = NULL;
  CHECK_WS(self);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:close", kwlist, &code, &reason)) return NULL;
  ENTER(self, "close");
  int rc = do_close(self, code, reason);
  if (rc == PUSHWIRE_ERR_OK + 1) {
    LEAVE(self);
    return NULL;
  }
  return conn_done(self, rc, "close");
}

static int do_accept(ConnObject *self, PyObject *subprotocol, PyObject *extra_headers) {
  if (extra_headers && add_headers(self, extra_headers) < 0) return PUSHWIRE_ERR_OK + 1;
  inbuf b = {NULL, 0, NULL};
  if (subprotocol && subprotocol != Py_None && get_field(subprotocol, &b, "subprotocol") < 0)
    return PUSHWIRE_ERR_OK + 1;
  int rc = pushwire_ws_accept(self->ws, (const char *)b.ptr, (size_t)b.len);
  release_input(&b);
  if (rc == 0 && conn_drain(self) < 0) return PUSHWIRE_ERR_OK + 1;
  return rc;
}

static PyObject *conn_accept(ConnObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"subprotocol", "extra_headers", NULL};
  PyObject *sub = NULL, *hdrs = NULL;
  CHECK_WS(self);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:accept", kwlist, &sub, &hdrs)) return NULL;
  ENTER(self, "accept");
  int rc = do_accept(self, sub, hdrs);
  if (rc == PUSHWIRE_ERR_OK + 1) {
    LEAVE(self);
    return NULL;
  }
  return conn_done(self, rc, "accept");
}

static int do_reject(ConnObject *self, PyObject *status, PyObject *body, PyObject *headers) {
  long s = 400;
  if (status) {
    s = PyLong_AsLong(status);
    if (s == -1 && PyErr_Occurred()) return PUSHWIRE_ERR_OK + 1;
    if (s < 0 || s > 999) {
      PyErr_Format(PyExc_ValueError, "reject: %ld is not an HTTP status", s);
      return PUSHWIRE_ERR_OK + 1;
    }
  }
  if (headers && add_headers(self, headers) < 0) return PUSHWIRE_ERR_OK + 1;
  inbuf b = {NULL, 0, NULL};
  if (body && body != Py_None && get_input(body, &b, 1, "reject body") < 0) return PUSHWIRE_ERR_OK + 1;
  int rc = pushwire_ws_reject(self->ws, (unsigned)s, (const char *)b.ptr, (size_t)b.len);
  release_input(&b);
  return rc;
}

static PyObject *conn_reject(ConnObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"status", "body", "headers", NULL};
  PyObject *status = NULL, *body = NULL, *headers = NULL;
  CHECK_WS(self);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OOO:reject", kwlist, &status, &body, &headers)) return NULL;
  ENTER(self, "reject");
  int rc = do_reject(self, status, body, headers);
  if (rc == PUSHWIRE_ERR_OK + 1) {
    LEAVE(self);
    return NULL;
  }
  return conn_done(self, rc, "reject");
}

static PyObject *conn_start_method(ConnObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"host", "target", NULL};
  PyObject *host, *target = NULL;
  CHECK_WS(self);
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|O:start", kwlist, &host, &target)) return NULL;
  ENTER(self, "start");
  PyObject *slash = NULL;
  if (!target) target = slash = PyUnicode_FromString("/");
  int bad = !target || conn_start(self, host, target) < 0;
  Py_XDECREF(slash);
  LEAVE(self);
  if (bad) return NULL;
  Py_RETURN_NONE;
}

/* The index of the first (name, value) pair named `name` (ASCII case-insensitive), or -1. */
static Py_ssize_t header_index(PyObject *headers, const char *name) {
  Py_ssize_t n = PyTuple_Size(headers);
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject *lower = PyObject_CallMethod(PyTuple_GetItem(PyTuple_GetItem(headers, i), 0), "lower", NULL);
    if (!lower) return -1;
    int eq = PyUnicode_CompareWithASCIIString(lower, name) == 0;
    Py_DECREF(lower);
    if (eq) return i;
  }
  return -1;
}

/*
 * send(event): the event form of the send methods. It queues, like them, and returns None:
 * returning the bytes (wsproto's way) would silently drop whatever the methods had queued
 * before whenever the caller ignored the result.
 */
static PyObject *conn_send(ConnObject *self, PyObject *event) {
  CHECK_WS(self);
  modstate *st = self->st;
  PyTypeObject *tp = Py_TYPE(event);
  int kind = -1;
  for (int k = 0; k < K_SSE_EVENT; ++k)
    if (tp == st->kinds[k]) kind = k;
  if (kind < 0)
    return PyErr_Format(PyExc_TypeError, "send() takes a pushwire WebSocket event, not %R", (PyObject *)tp);
  EvObject *ev = (EvObject *)event;
  ENTER(self, "send");
  int rc;
  const char *what = KINDS[kind].name;
  switch (kind) {
    case K_TEXT:
    case K_BYTES: rc = send_message(self, ev->f[0], kind == K_BYTES, ev->f[1] == Py_True, what); break;
    case K_PING: {
      inbuf b;
      rc = get_input(ev->f[0], &b, 0, what) < 0 ? PUSHWIRE_ERR_OK + 1
                                                : pushwire_ws_ping(self->ws, b.ptr, (size_t)b.len);
      release_input(&b);
      break;
    }
    case K_PONG: {
      inbuf b;
      rc = get_input(ev->f[0], &b, 0, what) < 0 ? PUSHWIRE_ERR_OK + 1
                                                : pushwire_ws_pong(self->ws, b.ptr, (size_t)b.len);
      release_input(&b);
      break;
    }
    case K_CLOSE: rc = do_close(self, ev->f[0], ev->f[1]); break;
    case K_ACCEPTED: rc = do_accept(self, ev->f[0], NULL); break;
    case K_REJECTED: rc = do_reject(self, ev->f[0], ev->f[1], NULL); break;
    case K_REQUEST: {
      Py_ssize_t at = header_index(ev->f[1], "host");
      if (at < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "send(Request): the headers need a Host");
        rc = PUSHWIRE_ERR_OK + 1;
        break;
      }
      PyObject *rest = PyList_New(0);
      Py_ssize_t n = PyTuple_Size(ev->f[1]);
      for (Py_ssize_t i = 0; rest && i < n; ++i)
        if (i != at && PyList_Append(rest, PyTuple_GetItem(ev->f[1], i)) < 0) Py_CLEAR(rest);
      PyObject *host = PyTuple_GetItem(PyTuple_GetItem(ev->f[1], at), 1);
      rc = (!rest || add_headers(self, rest) < 0 ||
            add_each(self, ev->f[2], pushwire_ws_add_subprotocol, "subprotocol") < 0 ||
            conn_start(self, host, ev->f[0]) < 0)
               ? PUSHWIRE_ERR_OK + 1
               : 0;
      Py_XDECREF(rest);
      break;
    }
    default: rc = PUSHWIRE_ERR_OK + 1; break;
  }
  if (rc == PUSHWIRE_ERR_OK + 1) {
    LEAVE(self);
    return NULL;
  }
  return conn_done(self, rc, what);
}

static PyObject *conn_tick(ConnObject *self, PyObject *arg) {
  CHECK_WS(self);
  unsigned long long now = PyLong_AsUnsignedLongLong(arg);
  if (now == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  ENTER(self, "tick");
  uint64_t next = 0;
  int rc = pushwire_ws_tick(self->ws, (uint64_t)now, &next);
  if (rc < 0 && rc != PUSHWIRE_ERR_TIMEOUT) return conn_done(self, rc, "tick");
  rc = conn_drain(self);
  LEAVE(self);
  if (rc < 0) return NULL;
  if (next == UINT64_MAX) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(next);
}

static PyObject *conn_get_option(ConnObject *self, PyObject *name) {
  CHECK_WS(self);
  for (size_t i = 0; i < N_WS_OPTIONS; ++i)
    if (PyUnicode_Check(name) && PyUnicode_CompareWithASCIIString(name, WS_OPTIONS[i].name) == 0) {
      uint64_t v = 0;
      int rc = pushwire_ws_get_option(self->ws, WS_OPTIONS[i].option, &v);
      if (rc < 0) return raise_pw(self->st, rc, "get_option", NULL, 0);
      return PyLong_FromUnsignedLongLong(v);
    }
  return PyErr_Format(PyExc_ValueError, "get_option: unknown option %R", name);
}

static PyObject *conn_get_state(ConnObject *self, void *c) {
  (void)c;
  CHECK_WS(self);
  return PyLong_FromLong((long)pushwire_ws_get_state(self->ws));
}
static PyObject *conn_get_output_size(ConnObject *self, void *c) {
  (void)c;
  CHECK_WS(self);
  return PyLong_FromSize_t(pushwire_ws_output_size(self->ws));
}
static PyObject *conn_get_hint(ConnObject *self, void *c) {
  (void)c;
  CHECK_WS(self);
  int h = pushwire_ws_close_code_hint(self->ws);
  if (!h) Py_RETURN_NONE;
  return PyLong_FromLong(h);
}
static PyObject *conn_get_reason(ConnObject *self, void *c) {
  (void)c;
  CHECK_WS(self);
  const char *r = pushwire_ws_error_reason(self->ws);
  if (!r || !r[0]) Py_RETURN_NONE;
  return PyUnicode_FromString(r);
}
static PyObject *conn_get_error(ConnObject *self, void *c) {
  (void)c;
  CHECK_WS(self);
  if (!self->recv_error) Py_RETURN_NONE;
  PyObject *what = PyUnicode_FromString("connection failed");
  if (!what) return NULL;
  PyObject *exc = make_exc(self->st, self->recv_error, what, pushwire_ws_error_reason(self->ws),
                           pushwire_ws_close_code_hint(self->ws));
  Py_DECREF(what);
  return exc;
}
static PyObject *conn_get_role(ConnObject *self, void *c) {
  (void)c;
  if (self->role < 0) Py_RETURN_NONE;
  return PyUnicode_FromString(self->role == PUSHWIRE_WS_CLIENT ? "client" : "server");
}

static PyMethodDef conn_methods[] = {
    {"receive_data", (PyCFunction)conn_receive_data, METH_O,
     "receive_data($self, data)\n--\n\n"
     "Feed bytes read from the transport (bytes, bytearray or memoryview), or None at end of\n"
     "input. The whole buffer is parsed in C and its events become available through events().\n"
     "Raises RemoteProtocolError once the receive side has failed (the failure itself is reported\n"
     "as a CloseConnection or Rejected event first), LocalProtocolError on misuse."},
    {"events", (PyCFunction)conn_events, METH_NOARGS,
     "events($self)\n--\n\nAn iterator over the events received since the last call, in order."},
    {"data_to_send", (PyCFunction)conn_data_to_send, METH_NOARGS,
     "data_to_send($self)\n--\n\nEvery byte queued for the transport, removed from the queue (b'' if none)."},
    {"send", (PyCFunction)conn_send, METH_O,
     "send($self, event)\n--\n\n"
     "Queue an event: TextMessage, BytesMessage (message_finished=False sends a fragment),\n"
     "Ping, Pong, CloseConnection, Accepted or Rejected (server, answering a Request), or a\n"
     "Request (client, starting the handshake). Like the send methods it only queues: write\n"
     "data_to_send() afterwards (unlike wsproto, whose send() returns the bytes)."},
    {"send_text", (PyCFunction)(void (*)(void))conn_send_text, METH_VARARGS | METH_KEYWORDS,
     "send_text($self, data, message_finished=True)\n--\n\n"
     "Queue a text message (str, or UTF-8 bytes). message_finished=False sends a fragment;\n"
     "the message continues with the next send_text until one with message_finished=True."},
    {"send_bytes", (PyCFunction)(void (*)(void))conn_send_bytes, METH_VARARGS | METH_KEYWORDS,
     "send_bytes($self, data, message_finished=True)\n--\n\nQueue a binary message (bytes-like); fragments as send_text."},
    {"ping", (PyCFunction)conn_ping, METH_VARARGS,
     "ping($self, payload=b'')\n--\n\nQueue a ping with at most 125 bytes of payload."},
    {"pong", (PyCFunction)conn_pong, METH_VARARGS,
     "pong($self, payload=b'')\n--\n\nQueue an unsolicited pong with at most 125 bytes of payload."},
    {"close", (PyCFunction)(void (*)(void))conn_close, METH_VARARGS | METH_KEYWORDS,
     "close($self, code=1000, reason='')\n--\n\n"
     "Queue a close frame. code None sends none; otherwise 1000-1003, 1007-1014 or 3000-4999;\n"
     "reason at most 123 bytes of UTF-8. Allowed after the peer's close and after a failure."},
    {"accept", (PyCFunction)(void (*)(void))conn_accept, METH_VARARGS | METH_KEYWORDS,
     "accept($self, subprotocol=None, extra_headers=())\n--\n\n"
     "Server, after a Request event: queue the 101 response. subprotocol must be one the client\n"
     "offered (None: the first of `subprotocols` the client offered). Frames that came with the\n"
     "request become events at once."},
    {"reject", (PyCFunction)(void (*)(void))conn_reject, METH_VARARGS | METH_KEYWORDS,
     "reject($self, status=400, body='', headers=())\n--\n\n"
     "Server, after a Request event: queue a `status` response with a text/plain body and\n"
     "Connection: close. The connection is then finished."},
    {"start", (PyCFunction)(void (*)(void))conn_start_method, METH_VARARGS | METH_KEYWORDS,
     "start($self, host, target='/')\n--\n\n"
     "Client: queue the opening request for `host` (the Host header, with a port if not the\n"
     "default) and `target` (path and query)."},
    {"tick", (PyCFunction)conn_tick, METH_O,
     "tick($self, now_ms)\n--\n\n"
     "Keepalive: pass a monotonic time in ms. Queues a ping after ping_interval_ms without\n"
     "input; fails the connection (CloseConnection 1006) when pong_timeout_ms passes after it\n"
     "without input. Returns when to tick next, or None when keepalive is off."},
    {"get_option", (PyCFunction)conn_get_option, METH_O,
     "get_option($self, name)\n--\n\nThe current value of an option (as an int), e.g. get_option('max_message_size')."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef conn_getset[] = {
    {"state_value", (getter)conn_get_state, NULL,
     "The connection state as an int: 0 handshake, 1 open, 2 closing, 3 closed, 4 failed.", NULL},
    {"output_size", (getter)conn_get_output_size, NULL, "Bytes queued for output (for backpressure).", NULL},
    {"close_code_hint", (getter)conn_get_hint, NULL,
     "After a failure: the close code to send, or the HTTP status to answer; None if none.", NULL},
    {"error_reason", (getter)conn_get_reason, NULL, "The reason for the current failure, or None.", NULL},
    {"role", (getter)conn_get_role, NULL, "'server' or 'client'.", NULL},
    {"error", (getter)conn_get_error, NULL,
     "After the receive side failed: a RemoteProtocolError describing the failure (not raised;\n"
     "name, close_code, status_hint), else None. Set once the failure event has been pulled.",
     NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot conn_slots[] = {
    {Py_tp_doc,
     "WSConnection(role, **options)\n--\n\n"
     "A sans-IO WebSocket connection (RFC 6455): the opening handshake, then frames.\n"
     "Feed received bytes with receive_data(), read events(), queue messages with the send\n"
     "methods and write data_to_send() to the transport. See pushwire.ServerConnection and\n"
     "pushwire.ClientConnection for the options. Not thread-safe: use from one thread at a\n"
     "time (overlapping calls raise LocalProtocolError instead of corrupting state)."},
    {Py_tp_new, conn_new},
    {Py_tp_init, conn_init},
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_traverse, conn_traverse},
    {Py_tp_clear, conn_clear},
    {Py_tp_methods, conn_methods},
    {Py_tp_getset, conn_getset},
    {0, NULL},
};

static PyType_Spec conn_spec = {"pushwire._pushwire.WSConnection", (int)sizeof(ConnObject), 0,
                                Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC, conn_slots};

/* ------------------------------------------------------------------------ */
/* SSE parser                                                               */
/* ------------------------------------------------------------------------ */

typedef struct {
  PyObject_HEAD
  pushwire_sse_parser *p;
  modstate *st;
  PyObject *module;
  PyObject *last_type; /* the last event type and ID objects, reused while the bytes repeat */
  PyObject *last_id;
  int busy;
} ParserObject;

static const struct {
  const char *name;
  pushwire_sse_parser_option option;
} SSE_OPTIONS[] = {
    {"max_line", PUSHWIRE_SSE_PARSER_OPT_MAX_LINE},
    {"max_event", PUSHWIRE_SSE_PARSER_OPT_MAX_EVENT},
    {"report_comments", PUSHWIRE_SSE_PARSER_OPT_REPORT_COMMENTS},
    {"max_input_buffer", PUSHWIRE_SSE_PARSER_OPT_MAX_INPUT_BUFFER},
};
#define N_SSE_OPTIONS (sizeof SSE_OPTIONS / sizeof SSE_OPTIONS[0])

static PyObject *parser_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  modstate *st = state_of_type(type);
  if (!st) return NULL;
  if (PyTuple_Size(args) != 0) {
    PyErr_SetString(PyExc_TypeError, "SSEParser() takes keyword arguments only");
    return NULL;
  }
  ParserObject *self = (ParserObject *)PyType_GenericAlloc(type, 0);
  if (!self) return NULL;
  self->st = st;
  self->module = PyType_GetModule(type);
  Py_XINCREF(self->module);
  int rc = pushwire_sse_parser_new(&self->p, &pw_alloc);
  if (rc < 0) {
    Py_DECREF(self);
    return raise_pw(st, rc, "SSEParser()", NULL, 0);
  }
  if (kwds) {
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwds, &pos, &key, &value)) {
      size_t i;
      for (i = 0; i < N_SSE_OPTIONS; ++i)
        if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, SSE_OPTIONS[i].name) == 0) break;
      if (i == N_SSE_OPTIONS) {
        Py_DECREF(self);
        return PyErr_Format(PyExc_TypeError, "SSEParser() got an unexpected keyword argument %R", key);
      }
      if (value == Py_None) continue;
      unsigned long long v = PyBool_Check(value) ? (value == Py_True) : PyLong_AsUnsignedLongLong(value);
      if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        Py_DECREF(self);
        return NULL;
      }
      rc = pushwire_sse_parser_set_option(self->p, SSE_OPTIONS[i].option, (uint64_t)v);
      if (rc < 0) {
        Py_DECREF(self);
        PyObject *msg = PyUnicode_FromFormat("SSEParser option %s=%llu", SSE_OPTIONS[i].name, v);
        if (msg) raise_pw_obj(st, rc, msg, NULL, 0);
        Py_XDECREF(msg);
        return NULL;
      }
    }
  }
  return (PyObject *)self;
}

static int parser_traverse(ParserObject *self, visitproc visit, void *arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(self->module);
  return 0;
}

static void parser_dealloc(ParserObject *self) {
  PyTypeObject *tp = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  pushwire_sse_parser_free(self->p);
  Py_CLEAR(self->last_type);
  Py_CLEAR(self->last_id);
  Py_CLEAR(self->module);
  freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  tp_free(self);
  Py_DECREF(tp);
}

/* A str for `s`, reusing *cache when it holds the same text (event types and ids repeat). */
static PyObject *cached_str(PyObject **cache, pushwire_span s) {
  if (*cache) {
    Py_ssize_t n;
    PyObject *b = NULL;
    const char *p = NULL;
#if Py_LIMITED_API + 0 >= 0x030A0000
    p = PyUnicode_AsUTF8AndSize(*cache, &n);
#else
    b = PyUnicode_AsUTF8String(*cache);
    if (b) {
      char *bp;
      if (PyBytes_AsStringAndSize(b, &bp, &n) == 0) p = bp;
    }
#endif
    int same = p && (size_t)n == s.len && (s.len == 0 || memcmp(p, s.ptr, s.len) == 0);
    Py_XDECREF(b);
    if (!p) PyErr_Clear();
    if (same) {
      Py_INCREF(*cache);
      return *cache;
    }
  }
  PyObject *o = PyUnicode_DecodeUTF8((const char *)s.ptr, (Py_ssize_t)s.len, "replace");
  if (!o) return NULL;
  Py_INCREF(o);
  Py_XDECREF(*cache);
  *cache = o;
  return o;
}

/* Pulls every event into `out`. Returns 0, or the sticky error code (< 0), or -1000 with an exception. */
static int parser_drain(ParserObject *self, PyObject *out) {
  modstate *st = self->st;
  pushwire_sse_event ev;
  int rc;
  while ((rc = pushwire_sse_parser_next_event(self->p, &ev)) == 1) {
    PyObject *o;
    switch (ev.type) {
      case PUSHWIRE_SSE_EV_EVENT: {
        PyObject *type;
        if (ev.event_type.len == 7 && memcmp(ev.event_type.ptr, "message", 7) == 0) {
          type = st->str_message;
          Py_INCREF(type);
        } else {
          type = cached_str(&self->last_type, ev.event_type);
        }
        PyObject *id;
        if (ev.last_event_id.len == 0) {
          id = st->str_empty;
          Py_INCREF(id);
        } else {
          id = cached_str(&self->last_id, ev.last_event_id);
        }
        o = ev_new(st, K_SSE_EVENT, span_str(ev.data), type, id, NULL);
        break;
      }
      case PUSHWIRE_SSE_EV_RETRY:
        o = ev_new(st, K_SSE_RETRY, PyLong_FromUnsignedLongLong(ev.retry_ms), NULL, NULL, NULL);
        break;
      case PUSHWIRE_SSE_EV_COMMENT: o = ev_new(st, K_SSE_COMMENT, span_str(ev.data), NULL, NULL, NULL); break;
      default: continue;
    }
    if (!o) return -1000;
    int bad = PyList_Append(out, o);
    Py_DECREF(o);
    if (bad) return -1000;
  }
  return rc;
}

/* Raises RemoteProtocolError (or another) with the events before the failure attached as .events. */
static PyObject *parser_fail(ParserObject *self, int rc, const char *what, PyObject *events) {
  raise_pw(self->st, rc, what, NULL, 0);
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (value && PyObject_SetAttrString(value, "events", events) < 0) PyErr_Clear();
  PyErr_Restore(type, value, tb);
  Py_DECREF(events);
  return NULL;
}

static PyObject *parser_feed_common(ParserObject *self, PyObject *data) {
  ENTER(self, data ? "SSEParser.feed" : "SSEParser.feed_eof");
  PyObject *out = PyList_New(0);
  if (!out) {
    LEAVE(self);
    return NULL;
  }
  int rc;
  if (data) {
    inbuf b;
    if (get_input(data, &b, 0, "SSEParser.feed") < 0) {
      LEAVE(self);
      Py_DECREF(out);
      return NULL;
    }
    rc = pushwire_sse_parser_feed(self->p, b.ptr, (size_t)b.len);
    release_input(&b);
  } else {
    rc = pushwire_sse_parser_feed_eof(self->p);
  }
  if (rc == 0) rc = parser_drain(self, out);
  LEAVE(self);
  if (rc == -1000) {
    Py_DECREF(out);
    return NULL;
  }
  if (rc < 0) return parser_fail(self, rc, data ? "SSEParser.feed" : "SSEParser.feed_eof", out);
  return out;
}

static PyObject *parser_feed(ParserObject *self, PyObject *data) { return parser_feed_common(self, data); }
static PyObject *parser_feed_eof(ParserObject *self, PyObject *unused) {
  (void)unused;
  return parser_feed_common(self, NULL);
}

static PyObject *parser_reset(ParserObject *self, PyObject *unused) {
  (void)unused;
  ENTER(self, "SSEParser.reset");
  int rc = pushwire_sse_parser_reset(self->p);
  LEAVE(self);
  if (rc < 0) return raise_pw(self->st, rc, "SSEParser.reset", NULL, 0);
  Py_RETURN_NONE;
}

static PyObject *parser_reconnect_headers(ParserObject *self, PyObject *unused) {
  (void)unused;
  size_t need = 0;
  int rc = pushwire_sse_parser_reconnect_headers(self->p, NULL, 0, &need);
  if (rc == 0) return PyBytes_FromStringAndSize(NULL, 0);
  if (rc != PUSHWIRE_ERR_BUFFER_TOO_SMALL || need == SIZE_MAX)
    return raise_pw(self->st, rc, "SSEParser.reconnect_headers", NULL, 0);
  PyObject *r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)need);
  if (!r) return NULL;
  rc = pushwire_sse_parser_reconnect_headers(self->p, (uint8_t *)PyBytes_AsString(r), need, &need);
  if (rc < 0) {
    Py_DECREF(r);
    return raise_pw(self->st, rc, "SSEParser.reconnect_headers", NULL, 0);
  }
  return r;
}

static PyObject *parser_get_last_event_id(ParserObject *self, void *c) {
  (void)c;
  return span_str(pushwire_sse_parser_last_event_id(self->p));
}
static PyObject *parser_get_retry(ParserObject *self, void *c) {
  (void)c;
  uint64_t v = pushwire_sse_parser_retry_ms(self->p, UINT64_MAX);
  if (v == UINT64_MAX) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(v);
}

static PyMethodDef parser_methods[] = {
    {"feed", (PyCFunction)parser_feed, METH_O,
     "feed($self, data)\n--\n\n"
     "Parse stream bytes (any chunking) and return the list of events they complete:\n"
     "ServerSentEvent, Retry and (with report_comments) Comment. A line or event over the\n"
     "limits raises RemoteProtocolError, whose .events holds the events before it; the parser\n"
     "then stays failed until reset()."},
    {"feed_eof", (PyCFunction)parser_feed_eof, METH_NOARGS,
     "feed_eof($self)\n--\n\nEnd of stream: an unterminated event is discarded. Returns the remaining events."},
    {"reset", (PyCFunction)parser_reset, METH_NOARGS,
     "reset($self)\n--\n\n"
     "Forget the stream position for a reconnect; the last event ID and retry delay persist."},
    {"reconnect_headers", (PyCFunction)parser_reconnect_headers, METH_NOARGS,
     "reconnect_headers($self)\n--\n\n"
     "The header lines for the reconnect request, CR LF terminated: Accept, Cache-Control and,\n"
     "when one is known, Last-Event-ID."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef parser_getset[] = {
    {"last_event_id", (getter)parser_get_last_event_id, NULL,
     "The current last event ID (what a reconnect sends), '' when none.", NULL},
    {"retry_ms", (getter)parser_get_retry, NULL, "The reconnection delay the stream set, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot parser_slots[] = {
    {Py_tp_doc,
     "SSEParser(*, max_line=65536, max_event=1048576, report_comments=False, max_input_buffer=4194304)\n--\n\n"
     "A browser-exact text/event-stream parser (WHATWG HTML) for any chunking of the input:\n"
     "UTF-8 decoded as a browser does, CR/LF/CRLF line ends, `data` joined with LF, `event`,\n"
     "`id` (persisting; an empty id clears it) and `retry`. Limits bound memory: a longer line\n"
     "or larger event fails the stream. Not thread-safe (overlapping calls raise)."},
    {Py_tp_new, parser_new},
    {Py_tp_dealloc, parser_dealloc},
    {Py_tp_traverse, parser_traverse},
    {Py_tp_methods, parser_methods},
    {Py_tp_getset, parser_getset},
    {0, NULL},
};

static PyType_Spec parser_spec = {"pushwire._pushwire.SSEParser", (int)sizeof(ParserObject), 0,
                                  Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, parser_slots};

/* ------------------------------------------------------------------------ */
/* SSE encoding and writer                                                  */
/* ------------------------------------------------------------------------ */

typedef struct {
  pushwire_sse_fields f;
  inbuf bufs[4];
} sse_args;

static void sse_args_release(sse_args *a) {
  for (int i = 0; i < 4; ++i) release_input(&a->bufs[i]);
}

/* Parses encode(data=None, event=None, id=None, retry=None, comment=None). */
static int sse_args_parse(sse_args *a, PyObject *args, PyObject *kwds, const char *fmt) {
  static char *kwlist[] = {"data", "event", "id", "retry", "comment", NULL};
  PyObject *o[5] = {NULL, NULL, NULL, NULL, NULL};
  memset(a, 0, sizeof *a);
  a->f.retry_ms = -1;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &o[0], &o[1], &o[2], &o[3], &o[4])) return -1;
  static const char *const names[] = {"data", "event", "id", "comment"};
  PyObject *vals[4] = {o[0], o[1], o[2], o[4]};
  for (int i = 0; i < 4; ++i) {
    if (!vals[i] || vals[i] == Py_None) continue;
    if (get_input(vals[i], &a->bufs[i], 1, names[i]) < 0) {
      sse_args_release(a);
      return -1;
    }
    /* A present, empty field keeps a non-NULL pointer. */
    if (!a->bufs[i].ptr) a->bufs[i].ptr = (const uint8_t *)"";
  }
  a->f.data = (const char *)a->bufs[0].ptr;
  a->f.data_len = (size_t)a->bufs[0].len;
  a->f.event = (const char *)a->bufs[1].ptr;
  a->f.event_len = (size_t)a->bufs[1].len;
  a->f.id = (const char *)a->bufs[2].ptr;
  a->f.id_len = (size_t)a->bufs[2].len;
  a->f.comment = (const char *)a->bufs[3].ptr;
  a->f.comment_len = (size_t)a->bufs[3].len;
  if (o[3] && o[3] != Py_None) {
    if (!PyLong_Check(o[3])) {
      PyErr_SetString(PyExc_TypeError, "retry must be an int (milliseconds)");
      sse_args_release(a);
      return -1;
    }
    long long r = PyLong_AsLongLong(o[3]);
    if ((r == -1 && PyErr_Occurred()) || r < 0) {
      PyErr_Clear();
      PyErr_SetString(PyExc_ValueError, "retry must be a non-negative int below 2**63 (milliseconds)");
      sse_args_release(a);
      return -1;
    }
    a->f.retry_ms = r;
  }
  return 0;
}

static const char *sse_field_problem(const sse_args *a) {
  const pushwire_sse_fields *f = &a->f;
  if (!f->data && !f->event && !f->id && !f->comment && f->retry_ms < 0) return "no field given";
  if (f->event && (memchr(f->event, '\r', f->event_len) || memchr(f->event, '\n', f->event_len)))
    return "event holds CR or LF";
  if (f->id && (memchr(f->id, '\r', f->id_len) || memchr(f->id, '\n', f->id_len) || memchr(f->id, 0, f->id_len)))
    return "id holds CR, LF or NUL";
  return NULL;
}

static PyObject *sse_encode(PyObject *module, PyObject *args, PyObject *kwds) {
  modstate *st = (modstate *)PyModule_GetState(module);
  sse_args a;
  if (sse_args_parse(&a, args, kwds, "|OOOOO:encode") < 0) return NULL;
  uint8_t stack[1024];
  size_t n = 0;
  PyObject *r = NULL;
  int rc = pushwire_sse_encode(&a.f, stack, sizeof stack, &n);
  if (rc == 0) {
    r = PyBytes_FromStringAndSize((const char *)stack, (Py_ssize_t)n);
  } else if (rc == PUSHWIRE_ERR_BUFFER_TOO_SMALL && n != SIZE_MAX && n <= (size_t)PY_SSIZE_T_MAX) {
    r = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (r) {
      rc = pushwire_sse_encode(&a.f, (uint8_t *)PyBytes_AsString(r), n, &n);
      if (rc < 0) Py_CLEAR(r);
    }
  }
  if (!r && !PyErr_Occurred()) raise_pw(st, rc, "encode", sse_field_problem(&a), 0);
  sse_args_release(&a);
  return r;
}

typedef struct {
  PyObject_HEAD
  pushwire_sse_writer *w;
  modstate *st;
  PyObject *module;
  int busy;
} WriterObject;

static PyObject *writer_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"max_output_buffer", "heartbeat_ms", NULL};
  PyObject *maxout = NULL, *hb = NULL;
  modstate *st = state_of_type(type);
  if (!st) return NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|$OO:SSEWriter", kwlist, &maxout, &hb)) return NULL;
  WriterObject *self = (WriterObject *)PyType_GenericAlloc(type, 0);
  if (!self) return NULL;
  self->st = st;
  self->module = PyType_GetModule(type);
  Py_XINCREF(self->module);
  int rc = pushwire_sse_writer_new(&self->w, &pw_alloc);
  if (rc < 0) {
    Py_DECREF(self);
    return raise_pw(st, rc, "SSEWriter()", NULL, 0);
  }
  PyObject *vals[2] = {maxout, hb};
  pushwire_sse_writer_option opts[2] = {PUSHWIRE_SSE_WRITER_OPT_MAX_OUTPUT_BUFFER, PUSHWIRE_SSE_WRITER_OPT_HEARTBEAT_MS};
  for (int i = 0; i < 2; ++i) {
    if (!vals[i] || vals[i] == Py_None) continue;
    unsigned long long v = PyLong_AsUnsignedLongLong(vals[i]);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
      Py_DECREF(self);
      return NULL;
    }
    rc = pushwire_sse_writer_set_option(self->w, opts[i], (uint64_t)v);
    if (rc < 0) {
      Py_DECREF(self);
      return raise_pw(st, rc, i ? "SSEWriter option heartbeat_ms" : "SSEWriter option max_output_buffer", NULL, 0);
    }
  }
  return (PyObject *)self;
}

static int writer_traverse(WriterObject *self, visitproc visit, void *arg) {
  Py_VISIT(Py_TYPE(self));
  Py_VISIT(self->module);
  return 0;
}

static void writer_dealloc(WriterObject *self) {
  PyTypeObject *tp = Py_TYPE(self);
  PyObject_GC_UnTrack(self);
  pushwire_sse_writer_free(self->w);
  Py_CLEAR(self->module);
  freefunc tp_free = (freefunc)PyType_GetSlot(tp, Py_tp_free);
  tp_free(self);
  Py_DECREF(tp);
}

static PyObject *writer_result(WriterObject *self, int rc, const char *what, const char *detail) {
  LEAVE(self);
  if (rc < 0) return raise_pw(self->st, rc, what, detail, 0);
  Py_RETURN_NONE;
}

static PyObject *writer_response_head(WriterObject *self, PyObject *args, PyObject *kwds) {
  static char *kwlist[] = {"headers", NULL};
  PyObject *headers = NULL;
  if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:response_head", kwlist, &headers)) return NULL;
  ENTER(self, "SSEWriter.response_head");
  if (headers && headers != Py_None) {
    PyObject *h = to_headers(headers);
    if (!h) {
      LEAVE(self);
      return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_Size(h); ++i) {
      PyObject *pair = PyTuple_GetItem(h, i);
      inbuf nb, vb;
      if (get_field(PyTuple_GetItem(pair, 0), &nb, "header name") < 0) {
        Py_DECREF(h);
        LEAVE(self);
        return NULL;
      }
      if (get_field(PyTuple_GetItem(pair, 1), &vb, "header value") < 0) {
        release_input(&nb);
        Py_DECREF(h);
        LEAVE(self);
        return NULL;
      }
      int rc = pushwire_sse_writer_add_header(self->w, (const char *)nb.ptr, (size_t)nb.len, (const char *)vb.ptr,
                                              (size_t)vb.len);
      release_input(&nb);
      release_input(&vb);
      if (rc < 0) {
        PyObject *msg = PyUnicode_FromFormat("SSEWriter.response_head header %R", pair);
        Py_DECREF(h);
        LEAVE(self);
        if (msg) raise_pw_obj(self->st, rc, msg, NULL, 0);
        Py_XDECREF(msg);
        return NULL;
      }
    }
    Py_DECREF(h);
  }
  return writer_result(self, pushwire_sse_writer_response_head(self->w), "SSEWriter.response_head", NULL);
}

static PyObject *writer_event(WriterObject *self, PyObject *args, PyObject *kwds) {
  sse_args a;
  if (sse_args_parse(&a, args, kwds, "|OOOOO:event") < 0) return NULL;
  if (self->busy) sse_args_release(&a);
  ENTER(self, "SSEWriter.event");
  int rc = pushwire_sse_writer_event(self->w, &a.f);
  const char *problem = rc == PUSHWIRE_ERR_INVALID_ARGUMENT ? sse_field_problem(&a) : NULL;
  sse_args_release(&a);
  return writer_result(self, rc, "SSEWriter.event", problem);
}

static PyObject *writer_comment(WriterObject *self, PyObject *args) {
  PyObject *text = NULL;
  if (!PyArg_ParseTuple(args, "|O:comment", &text)) return NULL;
  inbuf b = {NULL, 0, NULL};
  if (text && get_input(text, &b, 1, "comment") < 0) return NULL;
  if (self->busy) release_input(&b);
  ENTER(self, "SSEWriter.comment");
  int rc = pushwire_sse_writer_comment(self->w, (const char *)b.ptr, (size_t)b.len);
  release_input(&b);
  return writer_result(self, rc, "SSEWriter.comment", NULL);
}

static PyObject *writer_data_to_send(WriterObject *self, PyObject *unused) {
  (void)unused;
  ENTER(self, "SSEWriter.data_to_send");
  pushwire_span s;
  size_t n = pushwire_sse_writer_peek_output(self->w, &s);
  PyObject *r = PyBytes_FromStringAndSize((const char *)s.ptr, (Py_ssize_t)n);
  if (r && n) pushwire_sse_writer_consume_output(self->w, n);
  LEAVE(self);
  return r;
}

static PyObject *writer_tick(WriterObject *self, PyObject *arg) {
  unsigned long long now = PyLong_AsUnsignedLongLong(arg);
  if (now == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
  ENTER(self, "SSEWriter.tick");
  uint64_t next = 0;
  int rc = pushwire_sse_writer_tick(self->w, (uint64_t)now, &next);
  LEAVE(self);
  if (rc < 0) return raise_pw(self->st, rc, "SSEWriter.tick", NULL, 0);
  if (next == UINT64_MAX) Py_RETURN_NONE;
  return PyLong_FromUnsignedLongLong(next);
}

static PyObject *writer_get_output_size(WriterObject *self, void *c) {
  (void)c;
  return PyLong_FromSize_t(pushwire_sse_writer_output_size(self->w));
}

static PyMethodDef writer_methods[] = {
    {"response_head", (PyCFunction)(void (*)(void))writer_response_head, METH_VARARGS | METH_KEYWORDS,
     "response_head($self, headers=())\n--\n\n"
     "Queue the HTTP/1.1 200 response head (Content-Type: text/event-stream; charset=utf-8,\n"
     "Cache-Control: no-cache, X-Accel-Buffering: no, then `headers`). Once, before any event."},
    {"event", (PyCFunction)(void (*)(void))writer_event, METH_VARARGS | METH_KEYWORDS,
     "event($self, data=None, event=None, id=None, retry=None, comment=None)\n--\n\n"
     "Queue one event (the bytes of pushwire.sse.encode). All or nothing."},
    {"comment", (PyCFunction)writer_comment, METH_VARARGS,
     "comment($self, text='')\n--\n\nQueue a comment line (e.g. a keepalive), split into lines like data."},
    {"data_to_send", (PyCFunction)writer_data_to_send, METH_NOARGS,
     "data_to_send($self)\n--\n\nEvery byte queued for the transport, removed from the queue."},
    {"tick", (PyCFunction)writer_tick, METH_O,
     "tick($self, now_ms)\n--\n\n"
     "Heartbeats: pass a monotonic time in ms; queues ': heartbeat' after heartbeat_ms without\n"
     "output. Returns when to tick next, or None when heartbeats are off."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef writer_getset[] = {
    {"output_size", (getter)writer_get_output_size, NULL, "Bytes queued for output (for backpressure).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot writer_slots[] = {
    {Py_tp_doc,
     "SSEWriter(*, max_output_buffer=67108864, heartbeat_ms=0)\n--\n\n"
     "A text/event-stream writer with an output queue, so many events go out in one write.\n"
     "Not thread-safe (overlapping calls raise)."},
    {Py_tp_new, writer_new},
    {Py_tp_dealloc, writer_dealloc},
    {Py_tp_traverse, writer_traverse},
    {Py_tp_methods, writer_methods},
    {Py_tp_getset, writer_getset},
    {0, NULL},
};

static PyType_Spec writer_spec = {"pushwire._pushwire.SSEWriter", (int)sizeof(WriterObject), 0,
                                  Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, writer_slots};

/* ------------------------------------------------------------------------ */
/* Module                                                                   */
/* ------------------------------------------------------------------------ */

static PyObject *mod_strerror(PyObject *module, PyObject *arg) {
  (void)module;
  long c = PyLong_AsLong(arg);
  if (c == -1 && PyErr_Occurred()) return NULL;
  return Py_BuildValue("(ss)", pushwire_error_name((int)c), pushwire_strerror((int)c));
}

static PyMethodDef module_methods[] = {
    {"encode", (PyCFunction)(void (*)(void))sse_encode, METH_VARARGS | METH_KEYWORDS,
     "encode($module, data=None, event=None, id=None, retry=None, comment=None)\n--\n\n"
     "One text/event-stream event as bytes: comment lines, event, id, retry, then one `data:`\n"
     "line per line of data (split on CR LF, LF and CR), and a blank line. str values are\n"
     "UTF-8 encoded. event and id must not hold CR or LF (id not NUL either)."},
    {"error_info", (PyCFunction)mod_strerror, METH_O,
     "error_info($module, code)\n--\n\nThe (name, description) of a pushwire error code."},
    {NULL, NULL, 0, NULL},
};

static int add_error_codes(PyObject *m) {
  PyObject *d = PyDict_New();
  if (!d) return -1;
#define PUSHWIRE__PY_CODE(name, value, message)                  \
  do {                                                           \
    PyObject *v = PyLong_FromLong(value);                        \
    if (!v || PyDict_SetItemString(d, #name, v) < 0) {           \
      Py_XDECREF(v);                                             \
      Py_DECREF(d);                                              \
      return -1;                                                 \
    }                                                            \
    Py_DECREF(v);                                                \
  } while (0);
  PUSHWIRE_ERROR_LIST(PUSHWIRE__PY_CODE)
#undef PUSHWIRE__PY_CODE
  int rc = PyModule_AddObject(m, "error_codes", d);
  if (rc < 0) Py_DECREF(d);
  return rc;
}

static int add_type(PyObject *m, const char *name, PyTypeObject *tp) {
  Py_INCREF(tp);
  if (PyModule_AddObject(m, name, (PyObject *)tp) < 0) {
    Py_DECREF(tp);
    return -1;
  }
  return 0;
}

static int module_exec(PyObject *m) {
  modstate *st = (modstate *)PyModule_GetState(m);
  if (pushwire_version_num() != PUSHWIRE_VERSION_NUM) {
    PyErr_Format(PyExc_ImportError, "pushwire: library version %s differs from header version %s",
                 pushwire_version_string(), PUSHWIRE_VERSION_STRING);
    return -1;
  }
  st->ProtocolError = PyErr_NewExceptionWithDoc(
      "pushwire.ProtocolError",
      "Base of pushwire's errors. Attributes: code (the pushwire error code, negative), name\n"
      "(e.g. 'PROTOCOL'), close_code (the WebSocket close code to send, or None) and\n"
      "status_hint (the HTTP status to answer with, or None).",
      NULL, NULL);
  if (!st->ProtocolError) return -1;
  st->LocalProtocolError = PyErr_NewExceptionWithDoc(
      "pushwire.LocalProtocolError",
      "You misused the API: a call not allowed in the current state, an invalid argument, or a\n"
      "buffer limit that would be passed. The connection is unchanged.",
      st->ProtocolError, NULL);
  if (!st->LocalProtocolError) return -1;
  st->RemoteProtocolError = PyErr_NewExceptionWithDoc(
      "pushwire.RemoteProtocolError",
      "The peer broke the protocol (or the input ended). close_code / status_hint say what to\n"
      "answer with; with auto_close that answer is already queued.",
      st->ProtocolError, NULL);
  if (!st->RemoteProtocolError) return -1;
  if (PyModule_AddObject(m, "ProtocolError", st->ProtocolError) < 0) return -1;
  Py_INCREF(st->ProtocolError);
  if (PyModule_AddObject(m, "LocalProtocolError", st->LocalProtocolError) < 0) return -1;
  Py_INCREF(st->LocalProtocolError);
  if (PyModule_AddObject(m, "RemoteProtocolError", st->RemoteProtocolError) < 0) return -1;
  Py_INCREF(st->RemoteProtocolError);

  st->Event = make_event_type(m, "pushwire._pushwire.Event",
                              "Event\n--\n\nBase of the WebSocket events (immutable value objects).", -1, NULL, 1);
  if (!st->Event || add_type(m, "Event", st->Event) < 0) return -1;
  st->Message = make_event_type(m, "pushwire._pushwire.Message",
                                "Message\n--\n\nBase of TextMessage and BytesMessage: data and message_finished.", -1,
                                (PyObject *)st->Event, 2);
  if (!st->Message || add_type(m, "Message", st->Message) < 0) return -1;
  for (int k = 0; k < K_COUNT; ++k) {
    char qual[96];
    PyOS_snprintf(qual, sizeof qual, "pushwire._pushwire.%s", KINDS[k].name);
    PyObject *base = k >= K_SSE_EVENT ? NULL : KINDS[k].message ? (PyObject *)st->Message : (PyObject *)st->Event;
    st->kinds[k] = make_event_type(m, qual, KINDS[k].doc, k, base, 0);
    if (!st->kinds[k] || add_type(m, KINDS[k].name, st->kinds[k]) < 0) return -1;
  }
  st->WSConnection = (PyTypeObject *)PyType_FromModuleAndSpec(m, &conn_spec, NULL);
  if (!st->WSConnection || add_type(m, "WSConnection", st->WSConnection) < 0) return -1;
  st->SSEParser = (PyTypeObject *)PyType_FromModuleAndSpec(m, &parser_spec, NULL);
  if (!st->SSEParser || add_type(m, "SSEParser", st->SSEParser) < 0) return -1;
  st->SSEWriter = (PyTypeObject *)PyType_FromModuleAndSpec(m, &writer_spec, NULL);
  if (!st->SSEWriter || add_type(m, "SSEWriter", st->SSEWriter) < 0) return -1;
  st->str_message = PyUnicode_InternFromString("message");
  st->str_empty = PyUnicode_FromStringAndSize("", 0);
  if (!st->str_message || !st->str_empty) return -1;
  if (PyModule_AddStringConstant(m, "version", pushwire_version_string()) < 0) return -1;
  if (PyModule_AddIntConstant(m, "version_num", (long)pushwire_version_num()) < 0) return -1;
  return add_error_codes(m);
}

static int module_traverse(PyObject *m, visitproc visit, void *arg) {
  modstate *st = (modstate *)PyModule_GetState(m);
  if (!st) return 0;
  Py_VISIT(st->ProtocolError);
  Py_VISIT(st->LocalProtocolError);
  Py_VISIT(st->RemoteProtocolError);
  Py_VISIT(st->Event);
  Py_VISIT(st->Message);
  for (int k = 0; k < K_COUNT; ++k) Py_VISIT(st->kinds[k]);
  Py_VISIT(st->WSConnection);
  Py_VISIT(st->SSEParser);
  Py_VISIT(st->SSEWriter);
  return 0;
}

static int module_clear(PyObject *m) {
  modstate *st = (modstate *)PyModule_GetState(m);
  if (!st) return 0;
  Py_CLEAR(st->ProtocolError);
  Py_CLEAR(st->LocalProtocolError);
  Py_CLEAR(st->RemoteProtocolError);
  Py_CLEAR(st->Event);
  Py_CLEAR(st->Message);
  for (int k = 0; k < K_COUNT; ++k) Py_CLEAR(st->kinds[k]);
  Py_CLEAR(st->WSConnection);
  Py_CLEAR(st->SSEParser);
  Py_CLEAR(st->SSEWriter);
  Py_CLEAR(st->str_message);
  Py_CLEAR(st->str_empty);
  return 0;
}

static void module_free(void *m) { module_clear((PyObject *)m); }

static PyModuleDef_Slot module_slots[] = {
    {Py_mod_exec, (void *)module_exec},
    {0, NULL},
};

static struct PyModuleDef pushwire_module = {
    PyModuleDef_HEAD_INIT,
    "_pushwire",
    "The native layer of pushwire (see the pushwire package for the documented API).",
    (Py_ssize_t)sizeof(modstate),
    module_methods,
    module_slots,
    (traverseproc)module_traverse,
    (inquiry)module_clear,
    module_free,
};

PyMODINIT_FUNC PyInit__pushwire(void) { return PyModuleDef_Init(&pushwire_module); }
