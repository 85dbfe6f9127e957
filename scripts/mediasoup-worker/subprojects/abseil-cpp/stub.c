/* empty: the real library is linked through the dependency */ int ms_stub_abseil_cpp(void) { return 0; }
