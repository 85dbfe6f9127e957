/* empty: the real library is linked through the dependency */ int ms_stub_libuv(void) { return 0; }
