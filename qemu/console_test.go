package qemu

import (
	"os"
	"strings"
	"testing"
)

func TestRecogniseGolden(t *testing.T) {
	tests := []struct {
		file     string
		kind     string // "" = no report
		title    string // prefix
		fatal    bool
		excerpt  []string // substrings of the excerpt
		nReports int
	}{
		{file: "clean-boot.log"},
		{file: "sysrq-crash.log", kind: KindPanic, title: "Kernel panic - not syncing: sysrq triggered crash", fatal: true,
			excerpt: []string{"sysrq: Trigger a crash", "Kernel Offset: disabled"}, nReports: 1},
		{file: "warn.log", kind: KindWARN, title: "WARNING: drivers/block/null_blk/main.c:1763 at null_handle_cmd", fatal: false,
			excerpt: []string{"------------[ cut here ]------------", "Call Trace:", "---[ end trace"}, nReports: 1},
		{file: "bug-null.log", kind: KindBUG, title: "BUG: kernel NULL pointer dereference", fatal: true,
			excerpt: []string{"Oops: Oops: 0000 [#1] SMP", "nullb_device_power_store", "---[ end trace"}, nReports: 2},
		{file: "oops.log", kind: KindOops, title: "Oops: invalid opcode: 0000 [#1] SMP", fatal: true,
			excerpt: []string{"nullb_device_power_store", "---[ end trace"}, nReports: 2},
		{file: "rust-panic.log", kind: KindRustPanic, title: "rust_kernel: panicked at drivers/block/rnull/configfs.rs:120:29:", fatal: true,
			excerpt: []string{"attempt to multiply with overflow", "kernel BUG at rust/helpers/bug.c:7!", "rust_begin_unwind"}, nReports: 2},
		{file: "hung-task.log", kind: KindHungTask, title: "INFO: task fio:92 blocked for more than 122 seconds.", fatal: false,
			excerpt: []string{"hung_task_timeout_secs", "blk_mq_get_tag"}, nReports: 1},
		{file: "arm64-null-deref.log", kind: KindBUG, title: "Unable to handle kernel NULL pointer dereference at virtual address 0000000000000008", fatal: true,
			excerpt: []string{"Mem abort info:", "Internal error: Oops: 0000000096000046 [#1]  SMP", "Hardware name: linux,dummy-virt (DT)", "nullb_device_power_store+0x68/0x1c0 (P)", "---[ end trace"}, nReports: 2},
		{file: "arm64-rust-panic.log", kind: KindRustPanic, title: "rust_kernel: panicked at drivers/block/rnull/configfs.rs:120:29:", fatal: true,
			excerpt: []string{"attempt to multiply with overflow", "kernel BUG at rust/helpers/bug.c:7!", "Internal error: Oops - BUG: 00000000f2000800", "rust_begin_unwind", "el0t_64_sync"}, nReports: 2},
		{file: "arm64-undef.log", kind: KindOops, title: "Internal error: Oops - Undefined instruction: 0000000002000000 [#1]  SMP", fatal: true,
			excerpt: []string{"pc : nullb_device_power_store", "---[ end trace"}, nReports: 2},
		{file: "gpf.log", kind: KindGPF, title: "Oops: general protection fault, probably for non-canonical address", fatal: true,
			excerpt: []string{"blk_mq_free_request", "---[ end trace"}, nReports: 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			reports := Recognise(string(b))
			if tt.kind == "" {
				if len(reports) != 0 {
					t.Fatalf("clean log gave %d reports, first: %v", len(reports), reports[0])
				}
				return
			}
			if len(reports) != tt.nReports {
				for _, r := range reports {
					t.Logf("report: %s %q", r.Kind, r.Title)
				}
				t.Fatalf("%d reports, want %d", len(reports), tt.nReports)
			}
			p := firstProblem(reports, 0)
			if tt.fatal {
				if !p.Fatal {
					t.Errorf("report not fatal: %+v", p)
				}
			} else if p.Fatal {
				t.Errorf("report fatal: %+v", p)
			}
			if p.Kind != tt.kind || !strings.HasPrefix(p.Title, tt.title) {
				t.Errorf("got %s %q, want %s %q", p.Kind, p.Title, tt.kind, tt.title)
			}
			for _, s := range tt.excerpt {
				if !strings.Contains(p.Excerpt, s) {
					t.Errorf("excerpt lacks %q:\n%s", s, p.Excerpt)
				}
			}
			if p.Error() == "" || !strings.Contains(p.Error(), tt.kind) {
				t.Errorf("Error() = %q", p.Error())
			}
		})
	}
}

// The live watcher sees the console in arbitrary chunks.
func TestWatcherChunks(t *testing.T) {
	b, err := os.ReadFile("testdata/bug-null.log")
	if err != nil {
		t.Fatal(err)
	}
	var copyOut strings.Builder
	w := newWatcher(&copyOut)
	s := strings.ReplaceAll(string(b), "\n", "\r\n")
	for i := 0; i < len(s); i += 7 {
		w.Write([]byte(s[i:min(i+7, len(s))]))
	}
	w.Close()
	if copyOut.String() != s {
		t.Error("console copy differs from the input")
	}
	ev := w.Events()
	if len(ev) == 0 || ev[0].Kind != KindBUG || strings.Contains(ev[0].Excerpt, "\r") {
		t.Fatalf("events %+v", ev)
	}
	if ev[0].Line != 3 {
		t.Errorf("line %d, want 3", ev[0].Line)
	}
	if firstProblem(ev, 3) == nil || firstProblem(ev, 3).Kind == KindBUG {
		t.Errorf("since filter: %+v", firstProblem(ev, 3))
	}
}

func FuzzRecognise(f *testing.F) {
	for _, n := range []string{"warn.log", "bug-null.log", "rust-panic.log", "sysrq-crash.log"} {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Recognise(s) {
			if r.Kind == "" || r.Title == "" || !strings.Contains(r.Excerpt, r.Title) && !strings.Contains(s, r.Title) {
				t.Fatalf("bad report %+v", r)
			}
		}
	})
}
