#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "shared.h"

extern const char *generated_value(void);  /* src/generated.c: gitignored, written by the tests */

static PyObject *values(PyObject *self, PyObject *args) {
    return Py_BuildValue("(ss)", generated_value(), SHARED_VALUE);
}

static PyMethodDef methods[] = {{"values", values, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_learned_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__learned_speed(void) { return PyModule_Create(&module); }
