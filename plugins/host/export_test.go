package host

// SetBeforeExec makes f run just before every plugin process is executed,
// after a pinned binary has been read and checked against its pin, with
// the path of the plugin's file. The returned func restores the previous
// hook; call it once no Host of the test can launch any more.
func SetBeforeExec(f func(exe string)) (restore func()) {
	old := beforeExec.Swap(&f)
	return func() { beforeExec.Store(old) }
}
