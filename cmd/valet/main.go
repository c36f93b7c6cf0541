// Command valet is the Valet storage gateway (placeholder until the CLI lands).
package main

func main() { _ = builtins }
