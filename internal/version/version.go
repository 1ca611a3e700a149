// Package version holds the build's version, set at link time.
package version

// Version is the castwatch version; the build sets it with -ldflags "-X …/internal/version.Version=…".
var Version = "dev"
