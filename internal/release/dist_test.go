package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shipDir is the output of .ci/ship.sh, which runs the tests below on it.
func shipDir(t *testing.T) (dir, version string) {
	t.Helper()
	dir, version = os.Getenv("CRYPTOPAY_SHIP_DIR"), os.Getenv("CRYPTOPAY_SHIP_VERSION")
	if dir == "" || version == "" {
		t.Skip("CRYPTOPAY_SHIP_DIR and CRYPTOPAY_SHIP_VERSION name the output of .ci/ship.sh")
	}
	return dir, version
}

// unpack returns the files of a .tar.gz or .zip archive by name.
func unpack(t *testing.T, path string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = b
		}
		return files
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	gz, err := gzip.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if strings.HasSuffix(h.Name, "/cryptopay-mcp") && h.Mode&0o111 == 0 {
			t.Errorf("%s: %s is not executable (mode %o)", path, h.Name, h.Mode)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = b
	}
	return files
}

// TestDist checks the release archives: one per target with the binary,
// the README and the LICENSE, each binary of the right format and architecture, carrying
// the version, static and stripped on Linux; checksums.txt matches.
func TestDist(t *testing.T) {
	dir, version := shipDir(t)
	dist := filepath.Join(dir, "dist")
	license := read(t, "LICENSE")
	sums := map[string]string{}
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q", sc.Text())
		}
		sums[name] = sum
	}
	f.Close()
	if len(sums) != len(targets) {
		t.Errorf("checksums.txt lists %d files, want %d", len(sums), len(targets))
	}
	for _, tg := range targets {
		t.Run(tg.goos+"_"+tg.goarch, func(t *testing.T) {
			ext, exe := ".tar.gz", "cryptopay-mcp"
			if tg.goos == "windows" {
				ext, exe = ".zip", "cryptopay-mcp.exe"
			}
			base := "cryptopay-mcp_" + version + "_" + tg.goos + "_" + tg.goarch
			path := filepath.Join(dist, base+ext)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			if got := sums[base+ext]; got != hex.EncodeToString(sum[:]) {
				t.Errorf("checksums.txt has %q for %s, the file's sha256 is %x", got, base+ext, sum)
			}
			files := unpack(t, path)
			bin, ok := files[base+"/"+exe]
			if !ok || len(files[base+"/README.md"]) == 0 || !bytes.Equal(files[base+"/LICENSE"], license) {
				names := make([]string, 0, len(files))
				for n := range files {
					names = append(names, n)
				}
				t.Fatalf("archive holds %v, want %s/%s, %s/README.md and the repository's %s/LICENSE", names, base, exe, base, base)
			}
			if !bytes.Contains(bin, []byte(version)) {
				t.Errorf("the binary does not carry version %s (-ldflags -X main.version)", version)
			}
			checkFormat(t, bin, tg.goos, tg.goarch)
		})
	}
}

func checkFormat(t *testing.T, bin []byte, goos, goarch string) {
	t.Helper()
	r := bytes.NewReader(bin)
	switch goos {
	case "linux":
		path := filepath.Join(t.TempDir(), "cryptopay-mcp")
		if err := os.WriteFile(path, bin, 0o600); err != nil {
			t.Fatal(err)
		}
		checkStatic(t, path, map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch])
		f, err := elf.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		if f.Section(".symtab") != nil {
			t.Error("not stripped: has .symtab (-ldflags -s)")
		}
	case "darwin":
		f, err := macho.NewFile(r)
		if err != nil {
			t.Fatalf("not Mach-O: %v", err)
		}
		if want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]; f.Cpu != want {
			t.Errorf("cpu %v, want %v", f.Cpu, want)
		}
		if f.Type != macho.TypeExec {
			t.Errorf("type %v, want an executable", f.Type)
		}
	case "windows":
		f, err := pe.NewFile(r)
		if err != nil {
			t.Fatalf("not PE: %v", err)
		}
		if want := map[string]uint16{"amd64": pe.IMAGE_FILE_MACHINE_AMD64, "arm64": pe.IMAGE_FILE_MACHINE_ARM64}[goarch]; f.Machine != want {
			t.Errorf("machine %#x, want %#x", f.Machine, want)
		}
		if f.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
			t.Error("not an executable image")
		}
	}
}

// TestShipServerJSON checks server.json as .ci/ship.sh rendered it for the
// release: valid, every package at this version, each mcpb sha256 that of
// the bundle built, the rest as in the repository's server.json.
func TestShipServerJSON(t *testing.T) {
	dir, version := shipDir(t)
	rs := registrySchema(t)
	b, err := os.ReadFile(filepath.Join(dir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := decode(t, b)
	validateServerJSON(t, rs, doc)
	repo := decode(t, read(t, "server.json"))
	if doc["version"] != version {
		t.Errorf("version %v, want %s", doc["version"], version)
	}
	got, want := packages(doc), packages(repo)
	if len(got) != len(want) {
		t.Fatalf("%d packages, the repository's server.json has %d", len(got), len(want))
	}
	for i, p := range got {
		if p["version"] != version || !strings.Contains(p["identifier"].(string), version) && p["registryType"] != "npm" {
			t.Errorf("package %d (%v %v) is not at version %s", i, p["registryType"], p["identifier"], version)
		}
		if len(anySlice(p["environmentVariables"])) != len(anySlice(want[i]["environmentVariables"])) {
			t.Errorf("package %d: the environment variables changed in rendering", i)
		}
		if p["registryType"] != "mcpb" {
			continue
		}
		name := p["identifier"].(string)
		name = name[strings.LastIndex(name, "/")+1:]
		bundle, err := os.ReadFile(filepath.Join(dir, "mcpb", name))
		if err != nil {
			t.Errorf("mcpb package %s: %v", name, err)
			continue
		}
		if sum := sha256.Sum256(bundle); p["fileSha256"] != hex.EncodeToString(sum[:]) {
			t.Errorf("mcpb package %s: fileSha256 %v, the bundle's is %x", name, p["fileSha256"], sum)
		}
	}
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}
