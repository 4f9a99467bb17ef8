package fakecri

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// writeLog appends lines to a container log file in the CRI format that kubelet and crictl read:
// "<RFC 3339 time with nanoseconds> <stream> <F|P> <text>\n". The file and its directory are created
// as needed, as containerd does at container start, even when there are no lines. A text with
// newlines is written as one line per part.
func writeLog(path string, now func() time.Time, lines []LogLine) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, l := range lines {
		stream := l.Stream
		if stream == "" {
			stream = Stdout
		}
		parts := strings.Split(l.Text, "\n")
		for i, p := range parts {
			tag := "F"
			if l.Partial && i == len(parts)-1 {
				tag = "P"
			}
			fmt.Fprintf(&buf, "%s %s %s %s\n", now().UTC().Format(time.RFC3339Nano), stream, tag, p)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
