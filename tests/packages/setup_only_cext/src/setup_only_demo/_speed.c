#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* add(a, b) -> a + b for two Python ints that fit in a C long long. */
static PyObject *
add(PyObject *self, PyObject *args)
{
    long long a, b;
    if (!PyArg_ParseTuple(args, "LL", &a, &b)) {
        return NULL;
    }
    return PyLong_FromLongLong(a + b);
}

/* A marker string; tests edit "v1" to check that rebuilds pick up changes. */
static PyObject *
greeting(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return PyUnicode_FromString("hello v1");
}

static PyMethodDef speed_methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."},
    {"greeting", greeting, METH_NOARGS, "Return a marker string."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speed_module = {
    PyModuleDef_HEAD_INIT,
    "_speed",
    "C half of cext_demo.",
    -1,
    speed_methods,
};

PyMODINIT_FUNC
PyInit__speed(void)
{
    return PyModule_Create(&speed_module);
}
