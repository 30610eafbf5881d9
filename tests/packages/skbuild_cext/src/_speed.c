#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *greeting(PyObject *self, PyObject *args) {
    return PyUnicode_FromString("hello v1");
}

static PyMethodDef methods[] = {{"greeting", greeting, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
