package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
)

// The inputs tests generate: uploads for the browser tests (web's and
// e2e's), a playlist for the benchmarks.

// WriteRandom writes size pseudo-random bytes, a ChaCha8 stream from seed,
// to a new file at path.
func WriteRandom(path string, size int64, seed uint64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24), 0x76, 0x61, 0x6c})
	if _, err := io.CopyN(f, r, size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// FileSHA256 is the hex SHA-256 of the file at path, and its size.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// MakeClip writes, with ffmpeg, 12 s of 720p H.264 at a high bitrate
// (about 9 MB, faststart, a keyframe a second) to path: large enough that a
// player cannot have buffered the end before a seek and must ask for a new
// range.
func MakeClip(ffmpeg, path string) error {
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "12",
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-g", "25",
		"-pix_fmt", "yuv420p", "-movflags", "+faststart", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %v: %s", err, out)
	}
	return nil
}

// VODPlaylist is a one-hour VOD media playlist of fMP4 segments, the input
// of the playlist benchmarks: an init section (EXT-X-MAP) and 600 segments
// of 6 s, 601 URIs to sign.
func VODPlaylist() []byte {
	var b strings.Builder
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init.mp4\"\n")
	for i := range 600 {
		fmt.Fprintf(&b, "#EXTINF:6.000000,\nseg%05d.m4s\n", i)
	}
	b.WriteString("#EXT-X-ENDLIST\n")
	return []byte(b.String())
}
