// KubeAPITesting: an in-process Kubernetes API server for tests and benchmarks.
//
// Owns: `KubeAPISimulator`, which serves Services, EndpointSlices and Nodes (and the
// discovery documents, and Tables for kubectl) over HTTP/1.1 or HTTPS with a certificate
// made at start-up, with the real server's semantics: a global resourceVersion bumped by
// every write, paged lists served from one snapshot with continue tokens that expire (410),
// watches from a resourceVersion over a bounded history (410 Expired when compacted, as an
// ERROR event or as an HTTP status), bookmarks carrying only metadata.resourceVersion,
// timeoutSeconds, label and field selectors (with ADDED/DELETED on selector transitions),
// bearer-token authentication (401) and an allow-list authoriser (403); and scripted faults:
// failures with Retry-After, dropped watch connections, events cut or packed into chunks,
// slow streams, held-back events, compaction.
//
// Never: bends to the client. When the client and the simulator disagree, check the
// Kubernetes API reference, fix whichever side is wrong, and say so in a test.
