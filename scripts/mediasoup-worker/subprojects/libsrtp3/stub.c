/* empty: the real library is linked through the dependency */ int ms_stub_libsrtp3(void) { return 0; }
