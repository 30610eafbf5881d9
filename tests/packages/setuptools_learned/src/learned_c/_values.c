#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "shared.h" /* SHARED_VALUE, from a directory outside the project */

/* FLAVOR comes from define_macros (CEXT_FLAVOR), EXTRA from CFLAGS (-DEXTRA=2). */
#ifndef EXTRA
#define EXTRA 1
#endif

/* values() -> (SHARED_VALUE, FLAVOR, EXTRA) as this module was compiled. */
static PyObject *
values(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    return Py_BuildValue("(iii)", SHARED_VALUE, FLAVOR, EXTRA);
}

static PyMethodDef values_methods[] = {
    {"values", values, METH_NOARGS, "The values compiled in."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef values_module = {
    PyModuleDef_HEAD_INIT,
    "_values",
    "C half of learned_c.",
    -1,
    values_methods,
};

PyMODINIT_FUNC
PyInit__values(void)
{
    return PyModule_Create(&values_module);
}
