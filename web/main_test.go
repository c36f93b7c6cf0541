package web

import (
	"testing"

	"github.com/valetgw/valet/internal/testenv"
)

// TestMain fails the run if the browser driver left a process behind
// (Playwright starts Chromium in a process group of its own).
func TestMain(m *testing.M) { testenv.Main(m) }
