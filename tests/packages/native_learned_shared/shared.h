/* A header outside skbuild_learned and meson_learned (include_directories('../native_learned_shared')). */
#define SHARED_VALUE "shared v1"
