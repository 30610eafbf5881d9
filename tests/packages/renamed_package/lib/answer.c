/* the source of a compiled part, shipped in the wheel as well */
int answer(void) { return 42; }
