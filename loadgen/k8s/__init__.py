"""Kubernetes manifests for a fleet of loadgen pods (`loadgen k8s render`): an Indexed Job
whose pods each run one execution segment from a common start time, and the ConfigMap of
the files they read. Rendering only: nothing here talks to a cluster."""
