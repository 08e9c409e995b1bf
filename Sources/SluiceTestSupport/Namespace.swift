// Test helpers: private network namespaces and commands run inside them.
