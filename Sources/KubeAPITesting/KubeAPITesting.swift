// A Kubernetes API server simulator for tests and benchmarks.
import KubeAPI
