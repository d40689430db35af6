package qemu

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestArgv(t *testing.T) {
	tests := []struct {
		name string
		m    Machine
		want []string
	}{
		{
			name: "minimal tcg",
			m:    Machine{Kernel: "/k/bzImage", Accel: AccelTCG},
			want: []string{"qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
				"-machine", "pc", "-accel", "tcg", "-smp", "1", "-m", "256",
				"-kernel", "/k/bzImage",
				"-append", "console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux noapictimer",
				"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con"},
		},
		{
			name: "everything",
			m: Machine{
				QEMU: "/opt/qemu", Kernel: "bz", Initramfs: "i.cpio", Append: " quiet ", CPUs: 2, MemoryMiB: 1024,
				Accel: AccelTCG, CPU: "max", Type: "q35", BIOS: QBootROM, ICount: &ICount{Shift: 0},
				AgentSocket: "/t/agent.sock", Channels: []Channel{{Name: "extra", Socket: "/t/x.sock"}},
				Devices: []string{"virtio-rng-pci"}, ExtraArgs: []string{"-S"},
			},
			want: []string{"/opt/qemu", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
				"-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024",
				"-bios", "/usr/share/qemu/qboot.rom", "-icount", "shift=0,sleep=off",
				"-kernel", "bz", "-initrd", "i.cpio",
				"-append", "console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux quiet",
				"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
				"-device", "virtio-serial-pci,id=vser0",
				"-chardev", "socket,id=ch0,path=/t/agent.sock,server=on,wait=off",
				"-device", "virtserialport,bus=vser0.0,chardev=ch0,name=rflkit.agent",
				"-chardev", "socket,id=ch1,path=/t/x.sock,server=on,wait=off",
				"-device", "virtserialport,bus=vser0.0,chardev=ch1,name=extra",
				"-device", "virtio-rng-pci", "-S"},
		},
		{
			name: "serial transport, kvm, no default append",
			m: Machine{Kernel: "bz", Accel: AccelKVM, Transport: TransportSerial, AgentSocket: "/t/v.sock", AgentSerialSocket: "/t/a.sock",
				NoDefaultAppend: true, Append: "console=ttyS0"},
			want: []string{"qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
				"-machine", "pc", "-accel", "kvm", "-smp", "1", "-m", "256",
				"-kernel", "bz", "-append", "console=ttyS0",
				"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
				"-chardev", "socket,id=agent,path=/t/a.sock,server=on,wait=off", "-serial", "chardev:agent"},
		},
		{
			name: "auto transport offers both channels",
			m:    Machine{Kernel: "bz", Accel: AccelTCG, AgentSocket: "/t/v.sock", AgentSerialSocket: "/t/s.sock"},
			want: []string{"qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
				"-machine", "pc", "-accel", "tcg", "-smp", "1", "-m", "256",
				"-kernel", "bz", "-append", "console=ttyS0 panic=-1 oops=panic loglevel=5 i8042.nokbd i8042.noaux noapictimer",
				"-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
				"-chardev", "socket,id=agent,path=/t/s.sock,server=on,wait=off", "-serial", "chardev:agent",
				"-device", "virtio-serial-pci,id=vser0",
				"-chardev", "socket,id=ch0,path=/t/v.sock,server=on,wait=off",
				"-device", "virtserialport,bus=vser0.0,chardev=ch0,name=rflkit.agent"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.Argv()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("argv:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestSerialTransportAppend(t *testing.T) {
	for tr, want := range map[string]string{TransportSerial: "rflkit.transport=serial", TransportVirtio: "rflkit.transport=virtio"} {
		m := Machine{Kernel: "bz", Accel: AccelTCG, Transport: tr}
		if got := m.CommandLine(); !strings.Contains(got, want) {
			t.Errorf("command line %q lacks %q", got, want)
		}
	}
	if got := (Machine{Kernel: "bz"}).CommandLine(); strings.Contains(got, "rflkit.transport") {
		t.Errorf("auto transport: command line %q names a transport", got)
	}
	// noapictimer only where the APIC timer fails anyway: plain TCG.
	for m, want := range map[*Machine]bool{
		{Accel: AccelTCG}:                        true,
		{Accel: AccelTCG, ICount: &ICount{}}:     false,
		{Accel: AccelKVM}:                        false,
		{Accel: AccelTCG, NoDefaultAppend: true}: false,
	} {
		if got := strings.Contains(m.CommandLine(), "noapictimer"); got != want {
			t.Errorf("%+v: noapictimer %v, want %v", *m, got, want)
		}
	}
}

func TestArgvErrors(t *testing.T) {
	for name, m := range map[string]Machine{
		"no kernel":       {Accel: AccelTCG},
		"bad accel":       {Kernel: "k", Accel: "hvf"},
		"icount with kvm": {Kernel: "k", Accel: AccelKVM, ICount: &ICount{}},
		"icount shift":    {Kernel: "k", Accel: AccelTCG, ICount: &ICount{Shift: 11}},
		"cpus":            {Kernel: "k", Accel: AccelTCG, CPUs: -1},
		"memory":          {Kernel: "k", Accel: AccelTCG, MemoryMiB: -5},
		"transport":       {Kernel: "k", Accel: AccelTCG, Transport: "usb"},
		"channel comma":   {Kernel: "k", Accel: AccelTCG, Channels: []Channel{{Name: "a,b", Socket: "/s"}}},
		"channel empty":   {Kernel: "k", Accel: AccelTCG, Channels: []Channel{{Name: "a"}}},
		"socket comma":    {Kernel: "k", Accel: AccelTCG, AgentSocket: "/a,b"},
	} {
		if _, err := m.Argv(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	for _, a := range []string{"", AccelAuto} {
		if _, err := (Machine{Kernel: "k", Accel: a}).Argv(); !errors.Is(err, ErrAccelUnresolved) {
			t.Errorf("accel %q: %v, want ErrAccelUnresolved", a, err)
		}
	}
}

func TestShellCommand(t *testing.T) {
	got := ShellCommand([]string{"qemu", "-append", "console=ttyS0 panic=-1", "-x", "it's", "", "a,b=c"})
	want := `qemu -append 'console=ttyS0 panic=-1' -x 'it'\''s' '' a,b=c`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
