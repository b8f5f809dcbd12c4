// Package deploy holds tlslens's packaging, not code: the container image
// (Dockerfile), the systemd unit (systemd/) and the Kubernetes manifests
// (kubernetes/). README.md says how to use each; docs/scaling.md why the
// Kubernetes shape is what it is.
//
// Its tests decode every manifest strictly into the Kubernetes API types,
// check that the pieces agree with each other and with tlslens's config
// (ports, paths, labels, the CA's file modes), build the binary the way the
// Dockerfile does and run systemd-analyze on the unit.
package deploy
