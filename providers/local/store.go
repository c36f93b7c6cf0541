package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valetgw/valet/providers"
)

// Layout of a store root:
//
//	objects/           one sidecar per key (see keypath.go), opened as an os.Root
//	objects/%tmp/      sidecars being written, renamed into place to commit
//	blobs/ab/ab12...   object bytes, one immutable file per version
//	tmp/ID/            bodies being received by the process holding tmp/ID.lock
//	uploads/ID/        a multipart upload: upload.json and part files
//
// A PUT streams into tmp/, is fsynced, renamed into blobs/, and becomes
// visible only when its sidecar is renamed over the key's path. That rename
// is the single commit point, so a reader sees the old object or the new
// one, never a mix, and a cut upload leaves nothing under objects/.
type store struct {
	dir     string
	objects *os.Root
	blobs   string
	uploads string
	tmp     string   // this process's temp directory
	lock    *os.File // flock held for tmp's lifetime
	now     func() time.Time

	// keyLocks serialise commits and deletes per key within this process,
	// so the replaced version's blob is always the one removed.
	keyLocks [lockStripes]sync.Mutex
	// uploads being completed or aborted, each with its own lock, so a
	// long assembly never holds up another upload.
	uploadMu    sync.Mutex
	uploadLocks map[string]*uploadLock

	// sweepRead reads a sidecar for the blob sweep; tests replace it to
	// inject read errors. nil means readSidecarPath.
	sweepRead func(rel string) (*sidecar, error)
}

const (
	sidecarTmp   = "%tmp" // inside objects/; no key escapes to it
	sidecarGrace = 10 * time.Minute
	blobGrace    = 10 * time.Minute
)

// sidecar is the metadata file that makes an object exist.
type sidecar struct {
	V        int               `json:"v"`
	Blob     string            `json:"blob"`
	Size     int64             `json:"size"`
	Type     string            `json:"type"`
	Meta     map[string]string `json:"meta,omitempty"`
	SHA256   string            `json:"sha256,omitempty"`
	Modified time.Time         `json:"modified"`
}

func (sc *sidecar) etag() string { return `"` + sc.Blob + `"` }

func (sc *sidecar) object(key string) providers.Object {
	o := providers.Object{
		Key: key, Size: sc.Size, ContentType: sc.Type, ETag: sc.etag(),
		LastModified: sc.Modified, Metadata: sc.Meta,
	}
	if sc.SHA256 != "" {
		o.Checksums = map[providers.ChecksumAlgorithm]string{providers.SHA256: sc.SHA256}
	}
	return o
}

func openStore(dir string, now func() time.Time) (*store, error) {
	for _, d := range []string{"objects", "objects/" + sidecarTmp, "blobs", "tmp", "uploads"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o750); err != nil {
			return nil, err
		}
	}
	objects, err := os.OpenRoot(filepath.Join(dir, "objects"))
	if err != nil {
		return nil, err
	}
	s := &store{
		dir: dir, objects: objects, now: now,
		blobs:   filepath.Join(dir, "blobs"),
		uploads: filepath.Join(dir, "uploads"),
	}
	// Lock first, then create the directory: a tmp/ID directory whose lock
	// can be taken belongs to a process that is gone.
	id := newID()
	lock, err := os.OpenFile(filepath.Join(dir, "tmp", id+".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		objects.Close()
		return nil, err
	}
	if err := flock(lock); err != nil {
		lock.Close()
		objects.Close()
		return nil, err
	}
	s.lock = lock
	s.tmp = filepath.Join(dir, "tmp", id)
	if err := os.Mkdir(s.tmp, 0o750); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// close releases the store. Its temp directory is removed; anything still
// streaming into it fails.
func (s *store) close() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
	if s.lock != nil {
		os.Remove(s.lock.Name())
		s.lock.Close()
	}
	s.objects.Close()
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *store) blobPath(id string) string { return filepath.Join(s.blobs, id[:2], id) }

// lockStripes is how many key locks the names share.
const lockStripes = 64

// stripe picks the key lock of a name.
func stripe(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32() % lockStripes
}

// keyLock serialises commits and deletes of one object key.
func (s *store) keyLock(key string) *sync.Mutex { return &s.keyLocks[stripe(key)] }

// uploadLock is one upload's lock and how many callers hold or wait for it.
type uploadLock struct {
	sync.Mutex
	refs int
}

// lockUpload serialises completing and aborting upload id and returns the
// unlock. Each upload has its own lock, taken before any keyLock (complete
// commits while holding it), so the two never deadlock and a multi-GiB
// assembly holds up no other upload.
func (s *store) lockUpload(id string) (unlock func()) {
	s.uploadMu.Lock()
	if s.uploadLocks == nil {
		s.uploadLocks = map[string]*uploadLock{}
	}
	l := s.uploadLocks[id]
	if l == nil {
		l = &uploadLock{}
		s.uploadLocks[id] = l
	}
	l.refs++
	s.uploadMu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		s.uploadMu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.uploadLocks, id)
		}
		s.uploadMu.Unlock()
	}
}

// tempFile creates a file in this process's temp directory.
func (s *store) tempFile(pattern string) (*os.File, error) {
	return os.CreateTemp(s.tmp, pattern)
}

// closeTemp ends the writing of temp file f, whose writes ended with err:
// f is synced and closed, and removed when any step failed. It returns the
// first error.
func closeTemp(f *os.File, err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// errExists reports a create-only commit over an existing key.
var errExists = errors.New("object exists")

// commit makes the finished, fsynced file at tmpPath the object at key and
// returns the sidecar it wrote (a later read could see a concurrent
// writer's). It consumes tmpPath whatever happens. With createOnly, an
// existing key wins and errExists is returned.
func (s *store) commit(key, tmpPath string, sc sidecar, createOnly bool) (_ *sidecar, retErr error) {
	rel, err := keyPath(key)
	if err != nil {
		os.Remove(tmpPath)
		return nil, err
	}
	sc.V, sc.Blob, sc.Modified = 1, newID(), s.now().UTC()
	blob := s.blobPath(sc.Blob)
	if err := os.MkdirAll(filepath.Dir(blob), 0o750); err != nil {
		os.Remove(tmpPath)
		return nil, err
	}
	if err := os.Rename(tmpPath, blob); err != nil {
		os.Remove(tmpPath)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			os.Remove(blob)
		}
	}()

	data, _ := json.Marshal(sc)
	scTmp := sidecarTmp + "/" + newID()
	if err := writeSynced(s.objects, scTmp, data); err != nil {
		return nil, err
	}
	defer s.objects.Remove(scTmp) // no-op after a successful rename

	mu := s.keyLock(key)
	mu.Lock()
	defer mu.Unlock()
	var old *sidecar
	// A concurrent delete may prune the directory between MkdirAll and the
	// rename; trying again is enough.
	for attempt := 0; ; attempt++ {
		if dir := path.Dir(rel); dir != "." {
			if err := s.objects.MkdirAll(dir, 0o750); err != nil {
				return nil, placeError(key, err)
			}
		}
		if createOnly {
			err = s.objects.Link(scTmp, rel)
			if errors.Is(err, fs.ErrExist) {
				return nil, errExists
			}
		} else {
			old, _ = s.readSidecarPath(rel)
			err = s.objects.Rename(scTmp, rel)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == 2 {
			break
		}
	}
	if err != nil {
		return nil, placeError(key, err)
	}
	if old != nil && old.Blob != sc.Blob {
		os.Remove(s.blobPath(old.Blob))
	}
	return &sc, nil
}

// placeError explains why a key's path could not be used: typically a key
// that is a prefix of another ("a" vs "a/b") is fine, but a planted
// symlink or a file where a directory should be is not.
func placeError(key string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return providers.Errorf(providers.InvalidArgument, "key %q resolves outside the store root", key)
	}
	return providers.Errorf(providers.Internal, "storing %q: %v", key, cause(err))
}

func writeSynced(root *os.Root, name string, data []byte) error {
	f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (s *store) readSidecarPath(rel string) (*sidecar, error) {
	f, err := s.objects.Open(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() || fi.Size() > 1<<20 {
		return nil, fmt.Errorf("%s: %w", rel, errNotSidecar)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	var sc sidecar
	if err := json.Unmarshal(data, &sc); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", rel, errNotSidecar, err)
	}
	if sc.V != 1 || !validID(sc.Blob) {
		return nil, fmt.Errorf("%s: %w (not version 1)", rel, errNotSidecar)
	}
	return &sc, nil
}

// errNotSidecar marks a file that is not a readable sidecar, as opposed to
// one that could not be read (too many open files, an I/O error).
var errNotSidecar = errors.New("not a sidecar")

// stat returns key's sidecar, or a NotFound error.
func (s *store) stat(key string) (*sidecar, error) {
	rel, err := keyPath(key)
	if err != nil {
		return nil, err
	}
	sc, err := s.readSidecarPath(rel)
	if err != nil {
		return nil, lookupError(key, err)
	}
	return sc, nil
}

func lookupError(key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return providers.Errorf(providers.NotFound, "object %q not found", key)
	}
	var pe *os.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return providers.Errorf(providers.NotFound, "object %q not found", key)
	}
	return providers.Errorf(providers.Internal, "reading %q: %v", key, cause(err))
}

// open returns key's sidecar and its bytes. A concurrent overwrite can remove
// the blob between reading the sidecar and opening it; the sidecar is then
// read again.
func (s *store) open(key string) (*sidecar, *os.File, error) {
	for attempt := 0; ; attempt++ {
		sc, err := s.stat(key)
		if err != nil {
			return nil, nil, err
		}
		f, err := os.Open(s.blobPath(sc.Blob))
		if err == nil {
			return sc, f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return nil, nil, providers.Errorf(providers.Internal, "reading %q: %v", key, cause(err))
		}
	}
}

// remove deletes key. A missing key is not an error.
func (s *store) remove(key string) error {
	rel, err := keyPath(key)
	if err != nil {
		return err
	}
	mu := s.keyLock(key)
	mu.Lock()
	defer mu.Unlock()
	sc, _ := s.readSidecarPath(rel)
	if err := s.objects.Remove(rel); err != nil {
		if le := lookupError(key, err); providers.CodeOf(le) == providers.NotFound {
			return nil
		}
		return providers.Errorf(providers.Internal, "deleting %q: %v", key, cause(err))
	}
	if sc != nil {
		os.Remove(s.blobPath(sc.Blob))
	}
	// Prune directories left empty; Remove refuses a non-empty one.
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		if s.objects.Remove(dir) != nil {
			break
		}
	}
	return nil
}

// list returns up to limit objects with the prefix whose keys sort after
// cursor, in lexical order, and whether more follow. It walks the tree in
// key order (see walk) and stops after limit+1 keys, so a page costs about
// the page, not the store.
func (s *store) list(prefix, cursor string, limit int) ([]providers.Object, bool, error) {
	dir, _, ok := prefixDir(prefix)
	if !ok {
		return nil, false, nil
	}
	keyDir := ""
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		keyDir = prefix[:i+1]
	}
	var out []providers.Object
	more := false
	errStop := errors.New("stop")
	err := s.walk(dir, keyDir, func(key, rel string) error {
		if !strings.HasPrefix(key, prefix) || key <= cursor {
			return nil
		}
		if len(out) == limit {
			more = true
			return errStop
		}
		sc, err := s.readSidecarPath(rel)
		if err != nil {
			return nil // vanished or foreign file: not an object
		}
		out = append(out, sc.object(key))
		return nil
	}, func(sub string) bool {
		// Skip subtrees that cannot hold a wanted key.
		if !strings.HasPrefix(sub, prefix) && !strings.HasPrefix(prefix, sub) {
			return false
		}
		return sub > cursor || strings.HasPrefix(cursor, sub)
	})
	if err != nil && err != errStop {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
			return nil, false, nil
		}
		return nil, false, providers.Errorf(providers.Internal, "listing %q: %v", prefix, cause(err))
	}
	return out, more, nil
}

// walk visits the sidecars under dir in lexical key order. keyDir is the
// key prefix dir stands for ("" or ending in "/"). Within a directory, an
// object "x" sorts as "x" and a subdirectory "x" as "x/": every key below a
// subdirectory starts with that string, and no sibling's string is a proper
// prefix of another's, so sorting siblings this way sorts their keys. The
// pieces of long segments (see keypath.go) are gathered first, so every
// sibling is a whole segment. enter says whether a subdirectory (as its key
// prefix) is worth descending into.
func (s *store) walk(dir, keyDir string, visit func(key, rel string) error, enter func(sub string) bool) error {
	var kids []walkChild
	if err := s.gather(dir, "", "", keyDir, &kids); err != nil {
		return err
	}
	slices.SortFunc(kids, func(a, b walkChild) int { return strings.Compare(a.sort, b.sort) })
	for _, k := range kids {
		if k.isDir {
			if !enter(k.sort) {
				continue
			}
			if err := s.walk(k.rel, k.sort, visit, enter); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		if err := visit(k.sort, k.rel); err != nil {
			return err
		}
	}
	return nil
}

// walkChild is one object or subdirectory of a directory, as a whole segment.
type walkChild struct {
	sort, rel string
	isDir     bool
}

// gather adds the objects and subdirectories of the directory dir stands
// for to kids. Called with the directory itself, chain and esc are empty; in
// a piece directory of a long segment, chain is the path from there to it
// and esc the escaped start of the segment so far. A name is taken only if
// it decodes to a segment whose own path is the one found, so foreign or
// planted files are ignored and no segment is seen twice.
func (s *store) gather(dir, chain, esc, keyDir string, kids *[]walkChild) error {
	name := dir
	if name == "" {
		name = "."
	}
	f, err := s.objects.Open(name)
	if err != nil {
		return err
	}
	ents, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		rel := n
		if dir != "" {
			rel = dir + "/" + n
		}
		here := n // the path from the directory dir stands for
		if chain != "" {
			here = chain + "/" + n
		}
		switch {
		case e.IsDir() && strings.HasSuffix(n, contSuffix):
			piece := strings.TrimSuffix(n, contSuffix)
			if len(esc)+len(piece) > 3*maxKey { // longer than any key
				continue
			}
			if err := s.gather(rel, here, esc+piece, keyDir, kids); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		case e.IsDir():
			if seg, ok := unescapeSegment(esc + n); ok && segmentPath(seg) == here {
				*kids = append(*kids, walkChild{keyDir + seg + "/", rel, true})
			}
		case e.Type().IsRegular() && strings.HasSuffix(n, objectSuffix):
			stem := strings.TrimSuffix(here, objectSuffix)
			if seg, ok := unescapeSegment(esc + strings.TrimSuffix(n, objectSuffix)); ok && segmentPath(seg) == stem {
				*kids = append(*kids, walkChild{keyDir + seg, rel, false})
			}
		}
	}
	return nil
}
