/* Python bindings for the setuptools-cext example: module _core. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "example.h"

static PyObject *
primes_below(PyObject *self, PyObject *args)
{
    unsigned int limit;
    uint32_t *buf;
    size_t count;
    PyObject *result;

    if (!PyArg_ParseTuple(args, "I", &limit)) {
        return NULL;
    }
    count = ex_primes_below(limit, NULL, 0);
    buf = PyMem_Malloc((count ? count : 1) * sizeof *buf);
    if (buf == NULL) {
        return PyErr_NoMemory();
    }
    ex_primes_below(limit, buf, count);
    result = PyList_New((Py_ssize_t)count);
    if (result != NULL) {
        for (size_t i = 0; i < count; i++) {
            PyObject *item = PyLong_FromUnsignedLong(buf[i]);
            if (item == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, (Py_ssize_t)i, item);
        }
    }
    PyMem_Free(buf);
    return result;
}

static PyObject *
is_prime(PyObject *self, PyObject *args)
{
    unsigned long long n;
    if (!PyArg_ParseTuple(args, "K", &n)) {
        return NULL;
    }
    return PyBool_FromLong(ex_is_prime(n));
}

/* Copy a sequence of numbers into a freshly allocated C array. */
static double *
as_doubles(PyObject *seq_obj, Py_ssize_t *n_out)
{
    PyObject *seq = PySequence_Fast(seq_obj, "expected a sequence of numbers");
    Py_ssize_t n;
    double *xs;

    if (seq == NULL) {
        return NULL;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    xs = PyMem_Malloc((n ? n : 1) * sizeof *xs);
    if (xs == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        xs[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (xs[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(xs);
            Py_DECREF(seq);
            return NULL;
        }
    }
    Py_DECREF(seq);
    *n_out = n;
    return xs;
}

static PyObject *
describe(PyObject *self, PyObject *arg)
{
    Py_ssize_t n = 0;
    double *xs = as_doubles(arg, &n);
    PyObject *result;

    if (xs == NULL) {
        return NULL;
    }
    result = Py_BuildValue("{s:n,s:d,s:d,s:d}",
                           "count", n,
                           "mean", ex_mean(xs, (size_t)n),
                           "variance", ex_variance(xs, (size_t)n),
                           "median", ex_median(xs, (size_t)n));
    PyMem_Free(xs);
    return result;
}

static PyObject *
text_stats(PyObject *self, PyObject *args)
{
    const char *s;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "s#", &s, &len)) {
        return NULL;
    }
    return Py_BuildValue("{s:n,s:n,s:K}",
                         "words", (Py_ssize_t)ex_word_count(s, (size_t)len),
                         "vowels", (Py_ssize_t)ex_count_vowels(s, (size_t)len),
                         "fnv1a", (unsigned long long)ex_fnv1a(s, (size_t)len));
}

static PyObject *
greeting(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    /* A marker string; edit it to watch wheelmemo rebuild. */
    return PyUnicode_FromString("hello from C v1");
}

static PyMethodDef core_methods[] = {
    {"primes_below", primes_below, METH_VARARGS, "List of the primes below limit."},
    {"is_prime", is_prime, METH_VARARGS, "Deterministic primality test for 64-bit n."},
    {"describe", describe, METH_O, "count, mean, variance and median of numbers."},
    {"text_stats", text_stats, METH_VARARGS, "Word and vowel counts and FNV-1a hash of text."},
    {"greeting", greeting, METH_NOARGS, "Return a marker string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    "_core",
    "C half of setuptools_cext_example.",
    -1,
    core_methods,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    return PyModule_Create(&core_module);
}
