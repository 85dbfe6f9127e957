/* empty: the real library is linked through the dependency */ int ms_stub_usrsctp(void) { return 0; }
