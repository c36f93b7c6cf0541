package local

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valetgw/valet/providers"
)

// A multipart upload is a directory uploads/ID holding upload.json and one
// file per part, named by its zero-padded number. A part is received like a
// PUT (temp file, fsync, rename), so a part file is always whole. After a
// successful complete the parts are removed and done.json records the
// object, so a retried complete gives the same answer.
//
// When the complete declares a sha256 checksum, the assembled bytes are
// hashed as they are copied (a fixed buffer, so memory stays flat whatever
// the size) and the digest is stored with the object and reported, for the
// gateway to compare with the declared one. Without one, parts are copied
// file to file (copy_file_range) and nothing is hashed.

const (
	minPartSize = 5 << 20
	maxPartSize = 5 << 30
	maxParts    = 10000
)

type upload struct {
	Key     string            `json:"key"`
	Type    string            `json:"type"`
	Meta    map[string]string `json:"meta,omitempty"`
	Created time.Time         `json:"created"`
}

func partName(n int) string { return fmt.Sprintf("%05d", n) }

func (s *store) uploadDir(id string) string { return filepath.Join(s.uploads, id) }

func (s *store) createUpload(u upload) (string, error) {
	id := newID()
	dir := s.uploadDir(id)
	if err := os.Mkdir(dir, 0o750); err != nil {
		return "", providers.Errorf(providers.Internal, "creating upload: %v", cause(err))
	}
	u.Created = s.now().UTC()
	data, _ := json.Marshal(u)
	if err := os.WriteFile(filepath.Join(dir, "upload.json"), data, 0o640); err != nil {
		os.RemoveAll(dir)
		return "", providers.Errorf(providers.Internal, "creating upload: %v", cause(err))
	}
	return id, nil
}

// loadUpload reads an upload in progress for key. done is the finished
// object when the upload was already completed.
func (s *store) loadUpload(key, id string) (u *upload, done *providers.Object, err error) {
	notFound := providers.Errorf(providers.NotFound, "upload %q not found for key %q", id, key)
	if !validID(id) {
		return nil, nil, notFound
	}
	data, err := os.ReadFile(filepath.Join(s.uploadDir(id), "upload.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, notFound
		}
		return nil, nil, providers.Errorf(providers.Internal, "reading upload: %v", cause(err))
	}
	u = new(upload)
	if err := json.Unmarshal(data, u); err != nil || u.Key != key {
		return nil, nil, notFound
	}
	if data, err := os.ReadFile(filepath.Join(s.uploadDir(id), "done.json")); err == nil {
		done = new(providers.Object)
		if err := json.Unmarshal(data, done); err != nil {
			return nil, nil, providers.Errorf(providers.Internal, "reading upload: %v", err)
		}
	}
	return u, done, nil
}

func partETag(fi os.FileInfo) string {
	return fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
}

// putPart moves a received, fsynced part into its upload and returns its
// ETag. It consumes tmpPath.
func (s *store) putPart(key, id string, n int, tmpPath string) (string, error) {
	_, done, err := s.loadUpload(key, id)
	if err == nil && done != nil {
		err = providers.Errorf(providers.FailedPrecondition, "upload %q is already complete", id)
	}
	if err != nil {
		os.Remove(tmpPath)
		return "", err
	}
	dst := filepath.Join(s.uploadDir(id), partName(n))
	if err := os.Rename(tmpPath, dst); err != nil {
		os.Remove(tmpPath)
		if errors.Is(err, fs.ErrNotExist) { // aborted meanwhile
			return "", providers.Errorf(providers.NotFound, "upload %q not found", id)
		}
		return "", providers.Errorf(providers.Internal, "storing part: %v", cause(err))
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return "", providers.Errorf(providers.Internal, "storing part: %v", cause(err))
	}
	// An abort or complete that ran while the body streamed in no longer
	// sees this part: take it back rather than leave it behind.
	if _, done, err := s.loadUpload(key, id); err != nil || done != nil {
		os.Remove(dst)
		if err == nil {
			err = providers.Errorf(providers.FailedPrecondition, "upload %q was completed while this part was sent", id)
		}
		return "", err
	}
	return partETag(fi), nil
}

func (s *store) listParts(key, id string) ([]providers.Part, error) {
	_, done, err := s.loadUpload(key, id)
	if err != nil {
		return nil, err
	}
	if done != nil {
		return nil, nil
	}
	ents, err := os.ReadDir(s.uploadDir(id))
	if err != nil {
		return nil, providers.Errorf(providers.NotFound, "upload %q not found", id)
	}
	var parts []providers.Part
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil || len(e.Name()) != 5 || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		parts = append(parts, providers.Part{Number: n, Size: fi.Size(), ETag: partETag(fi)})
	}
	return parts, nil // ReadDir sorts by name, and names are zero-padded
}

// complete concatenates the listed parts into the object. Parts must be
// listed in increasing order, exist, match any ETag given, and all but the
// last must be at least minPartSize. A declared sha256 makes complete hash
// the object and report the digest it computed (never the declared one).
func (s *store) complete(key, id string, listed []providers.CompletedPart) (providers.Object, error) {
	return s.completeSum(key, id, listed, nil)
}

// completeSum is complete with the declared checksum, if any.
func (s *store) completeSum(key, id string, listed []providers.CompletedPart, declared *providers.Checksum) (providers.Object, error) {
	// One completer per upload: the upload's lock serialises them.
	defer s.lockUpload(id)()

	u, done, err := s.loadUpload(key, id)
	if err != nil {
		return providers.Object{}, err
	}
	if done != nil {
		return *done, nil
	}
	if len(listed) == 0 {
		return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "no parts listed")
	}
	dir := s.uploadDir(id)
	files := make([]*os.File, 0, len(listed))
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var total int64
	for i, p := range listed {
		if i > 0 && p.Number <= listed[i-1].Number {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition,
				"parts must be listed in increasing order (part %d after %d)", p.Number, listed[i-1].Number)
		}
		f, err := os.Open(filepath.Join(dir, partName(p.Number)))
		if err != nil {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition, "part %d was not uploaded", p.Number)
		}
		files = append(files, f)
		fi, err := f.Stat()
		if err != nil {
			return providers.Object{}, providers.Errorf(providers.Internal, "part %d: %v", p.Number, cause(err))
		}
		if p.ETag != "" && strings.Trim(p.ETag, `"`) != strings.Trim(partETag(fi), `"`) {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition,
				"part %d: ETag %s does not match the uploaded part's %s", p.Number, p.ETag, partETag(fi))
		}
		if i < len(listed)-1 && fi.Size() < minPartSize {
			return providers.Object{}, providers.Errorf(providers.FailedPrecondition,
				"part %d is %d bytes; every part but the last must be at least %d", p.Number, fi.Size(), minPartSize)
		}
		total += fi.Size()
	}

	tmp, err := s.tempFile("complete-*")
	if err != nil {
		return providers.Object{}, providers.Errorf(providers.Internal, "assembling: %v", cause(err))
	}
	hashSHA256 := declared != nil && declared.Algorithm == providers.SHA256
	h := sha256.New()
	var buf []byte
	if hashSHA256 {
		buf = make([]byte, 256<<10)
	}
	for _, f := range files {
		if hashSHA256 {
			// Hiding the file's WriteTo makes CopyBuffer use buf.
			_, err = io.CopyBuffer(io.MultiWriter(tmp, h), struct{ io.Reader }{f}, buf)
		} else {
			// os.File to os.File: copy_file_range where the kernel has it.
			_, err = io.Copy(tmp, f)
		}
		if err != nil {
			break
		}
	}
	if err := closeTemp(tmp, err); err != nil {
		return providers.Object{}, providers.Errorf(providers.Internal, "assembling: %v", cause(err))
	}
	sc := sidecar{Size: total, Type: u.Type, Meta: u.Meta}
	if hashSHA256 {
		sc.SHA256 = base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	obj, err := s.commit(key, tmp.Name(), sc, false)
	if err != nil {
		return providers.Object{}, err
	}
	res := obj.object(key)
	data, _ := json.Marshal(res)
	if err := writeAtomic(filepath.Join(dir, "done.json"), data); err == nil {
		// Unlisted parts go too; the sweeper removes the rest later.
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if _, err := strconv.Atoi(e.Name()); err == nil {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return res, nil
}

// abort removes an upload. Unknown and finished uploads are left alone.
func (s *store) abort(key, id string) error {
	defer s.lockUpload(id)()
	_, done, err := s.loadUpload(key, id)
	if errors.Is(err, providers.ErrNotFound) || done != nil {
		return nil
	}
	if err != nil {
		return err
	}
	// upload.json goes first: a part landing from now on sees the upload
	// gone and removes itself (see putPart), and one that lands while the
	// directory is being emptied makes RemoveAll fail once, so try again.
	dir := s.uploadDir(id)
	if err := os.Remove(filepath.Join(dir, "upload.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return providers.Errorf(providers.Internal, "aborting: %v", cause(err))
	}
	for range 3 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
	}
	return providers.Errorf(providers.Internal, "aborting: %v", cause(err))
}

// writeAtomic writes a file that readers see whole or not at all: a temp
// file beside it, fsynced, then renamed over the name.
func writeAtomic(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err := closeTemp(f, err); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}
