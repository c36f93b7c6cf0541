package local

// CountFiles is countFiles for the package's external tests (plugin_test.go).
var CountFiles = countFiles
