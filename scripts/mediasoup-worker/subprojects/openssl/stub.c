/* empty: the real library is linked through the dependency */ int ms_stub_openssl(void) { return 0; }
