/* empty: the real library is linked through the dependency */ int ms_stub_catch2(void) { return 0; }
