/* empty: the real library is linked through the dependency */ int ms_stub_flatbuffers(void) { return 0; }
