/* A header outside the project (include_dirs = ["../setuptools_learned_shared"]). */
#define SHARED_VALUE 1
