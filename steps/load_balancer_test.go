package steps

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLoadBalancerCheckApplyCheck(t *testing.T) {
	for _, profile := range []string{"el8", "debian"} {
		t.Run(profile, func(t *testing.T) {
			l := wtFakeLab(t, profile)
			targets := LoadBalancer().Targets(l.env.Plan)
			if len(targets) != 1 || targets[0].VM != "LOAD-BALANCER" {
				t.Fatalf("targets = %v", targets.Names())
			}
			n := targets[0]
			st := wtCycle(t, LoadBalancer(), l.env, n)
			if !strings.Contains(st.Why, "labctl-lb.conf is missing") || !strings.Contains(st.Why, "nginx is not installed") {
				t.Errorf("first check: %q", st.Why)
			}
			g := l.guests[n.VM]
			conf := string(g.files[path0(l).LBConf].Content)
			for _, want := range []string{
				"server 192.168.1.110:80 max_fails=2 fail_timeout=10s;",
				"server 192.168.1.111:80 max_fails=2 fail_timeout=10s;",
				"proxy_set_header Host $host;",
				"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
				"proxy_set_header X-Forwarded-Proto $scheme;",
				"proxy_set_header X-Forwarded-Host $host;",
				"proxy_next_upstream error timeout http_502 http_503 http_504;",
				"add_header X-Upstream $upstream_addr always;",
				"listen 80 default_server;",
			} {
				if !strings.Contains(conf, want) {
					t.Errorf("LB config lacks %q", want)
				}
			}
			if strings.Contains(conf, "sub_filter") {
				t.Error("LB config uses sub_filter")
			}
			// nginx -t runs before the reload, in the same script.
			scripts := g.scripts()
			last := scripts[len(scripts)-1].Script
			if i, j := strings.Index(last, "nginx -t"), strings.Index(last, "reload-or-restart"); i < 0 || j < 0 || i > j {
				t.Errorf("nginx -t must precede the reload:\n%s", last)
			}
		})
	}
}

func TestLoadBalancerNeedsWebNodes(t *testing.T) {
	if _, err := lbConf(lbConfData{Listen: "80"}); err == nil || !strings.Contains(err.Error(), "role \"web\"") {
		t.Errorf("no backends: %v", err)
	}
}

// wtFreePort returns a free TCP port on addr.
func wtFreePort(t *testing.T, addr string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Skipf("cannot listen on %s (%v): loopback test needs the 127.0.0.0/8 range", addr, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// wtStartNginx runs nginx in the foreground with conf (inside prefix) and
// stops it, with its workers, when the test ends.
func wtStartNginx(t *testing.T, nginx, prefix, conf string) {
	t.Helper()
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", prefix, "-c", path, "-e", filepath.Join(prefix, "logs", "error.log"), "-g", "daemon off;")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out, err := exec.Command(nginx, "-t", "-p", prefix, "-c", path, "-e", filepath.Join(prefix, "logs", "error.log")).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s\n%s", err, out, conf)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// wtGet fetches url with a Host header; bounded by a short timeout.
func wtGet(t *testing.T, url, host string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

// TestLoadBalancerLoopback runs the rendered load balancer in real nginx on
// 127.0.0.1 in front of two tiny backends on 127.0.0.2 and 127.0.0.3, then
// with one backend down.
func TestLoadBalancerLoopback(t *testing.T) {
	nginx := wtNeed(t, "nginx", "nginx-light")
	if testing.Short() {
		t.Skip("starts real nginx")
	}
	type backend struct{ name, addr string }
	run := func(t *testing.T, backends []backend, live []backend) string {
		prefix, temps := wtNginxPrefix(t)
		lbPort := wtFreePort(t, "127.0.0.1")
		d := lbConfData{Listen: fmt.Sprintf("127.0.0.1:%d", lbPort)}
		for _, b := range backends {
			d.Backends = append(d.Backends, b.addr)
		}
		site, err := lbConf(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(prefix, "lb.conf"), site, 0o644); err != nil {
			t.Fatal(err)
		}
		var servers strings.Builder
		for _, b := range live {
			fmt.Fprintf(&servers, `    server {
        listen %s;
        location / {
            default_type text/plain;
            return 200 "backend=%s host=$host xff=$http_x_forwarded_for proto=$http_x_forwarded_proto fhost=$http_x_forwarded_host\n";
        }
    }
`, b.addr, b.name)
		}
		conf := fmt.Sprintf("worker_processes 1;\npid %[1]s/nginx.pid;\nerror_log %[1]s/logs/error.log;\nevents { worker_connections 64; }\nhttp {\n    access_log off;\n%[2]s    include %[1]s/lb.conf;\n%[3]s}\n",
			prefix, temps, servers.String())
		wtStartNginx(t, nginx, prefix, conf)
		base := fmt.Sprintf("http://127.0.0.1:%d", lbPort)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if code, _, _ := wtGet(t, base+"/lb-health", "x"); code == 200 {
				return base
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(prefix, "logs", "error.log"))
				t.Fatalf("load balancer did not come up; error.log:\n%s", log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	one := backend{"one", fmt.Sprintf("127.0.0.2:%d", wtFreePort(t, "127.0.0.2"))}
	two := backend{"two", fmt.Sprintf("127.0.0.3:%d", wtFreePort(t, "127.0.0.3"))}

	t.Run("both up", func(t *testing.T) {
		base := run(t, []backend{one, two}, []backend{one, two})
		seen := map[string]int{}
		var prev string
		for i := 0; i < 6; i++ {
			code, h, body := wtGet(t, base+"/2024/hello-world/", "lab.example")
			if code != 200 {
				t.Fatalf("request %d: %d %s", i, code, body)
			}
			up := h.Get("X-Upstream")
			if up != one.addr && up != two.addr {
				t.Fatalf("request %d: X-Upstream %q names no backend", i, up)
			}
			if up == prev {
				t.Errorf("request %d: X-Upstream %s twice in a row, want round robin", i, up)
			}
			prev = up
			seen[up]++
			want := "host=lab.example xff=127.0.0.1 proto=http fhost=lab.example"
			if !strings.Contains(body, want) {
				t.Errorf("backend saw %q, want %q (Host and X-Forwarded-* passed on)", strings.TrimSpace(body), want)
			}
		}
		if seen[one.addr] != 3 || seen[two.addr] != 3 {
			t.Errorf("requests per backend %v, want 3 each", seen)
		}
	})

	t.Run("one down", func(t *testing.T) {
		base := run(t, []backend{one, two}, []backend{one})
		for i := 0; i < 4; i++ {
			code, h, body := wtGet(t, base+"/", "lab.example")
			if code != 200 || !strings.Contains(body, "backend=one") {
				t.Fatalf("request %d with backend two down: %d %q (X-Upstream %q)", i, code, body, h.Get("X-Upstream"))
			}
		}
	})
}

// TestLoadBalancerKeepsThePortInNATMode: behind a NAT network's forward the
// Host the browser sent carries the forward's port, which WordPress needs
// to recognise its own address; bridged labs keep $host.
func TestLoadBalancerKeepsThePortInNATMode(t *testing.T) {
	for _, c := range []struct {
		hostVar, want string
	}{{"", "proxy_set_header Host $host;"}, {"$http_host", "proxy_set_header Host $http_host;"}} {
		site, err := lbConf(lbConfData{Listen: "80", Backends: []string{"10.0.0.1:80"}, HostVar: c.hostVar})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(site), c.want) || !strings.Contains(string(site), "X-Forwarded-Host "+strings.TrimPrefix(strings.TrimSuffix(c.want, ";"), "proxy_set_header Host ")) {
			t.Errorf("HostVar %q: the config lacks %q:\n%s", c.hostVar, c.want, site)
		}
	}
}

// A run killed between writing the configuration and reloading nginx
// leaves the files current and nginx running the old configuration (on
// Debian, its welcome page): the next check says so and the apply reloads.
// Found by the real-lab chaos test (SIGKILL while the load balancer and
// web steps ran ahead of the group's formation).
func TestWebAndLBNotDoneUntilTheirConfigurationIsLoaded(t *testing.T) {
	for _, tc := range []struct {
		step  Step
		node  string
		stamp string
	}{{LoadBalancer(), "LOAD-BALANCER", lbStamp}, {Web(), "SERVER-ONE", webStamp}} {
		l := wtFakeLab(t, "debian")
		n := l.node(tc.node)
		wtCycle(t, tc.step, l.env, n)
		g := l.guests[n.VM]
		// As if the last reload never happened: files and services as they were.
		delete(g.facts, "loaded "+tc.stamp)
		ctx := context.Background()
		st, err := tc.step.Check(ctx, l.env, n)
		if err != nil {
			t.Fatal(err)
		}
		if st.Done || !strings.Contains(st.Why, "has not loaded the current configuration") {
			t.Errorf("%s after a lost reload: done=%v why=%q", tc.step.Name(), st.Done, st.Why)
		}
		if err := tc.step.Apply(ctx, l.env, n); err != nil {
			t.Fatal(err)
		}
		if st, err := tc.step.Check(ctx, l.env, n); err != nil || !st.Done {
			t.Errorf("%s after the apply: done=%v why=%q err=%v", tc.step.Name(), st.Done, st.Why, err)
		}
		var last string
		for _, c := range g.scripts() {
			if strings.Contains(c.Script, "reload-or-restart") {
				last = c.Script
			}
		}
		if i, j := strings.Index(last, "reload-or-restart"), strings.Index(last, "/var/lib/labctl/"+tc.stamp); i < 0 || j < i {
			t.Errorf("%s: the stamp must be written after the reload:\n%s", tc.step.Name(), last)
		}
		for _, v := range l.env.Secrets.Values() {
			if v != "" && strings.Contains(last, v) {
				t.Errorf("%s: a secret in the apply script", tc.step.Name())
			}
		}
	}
}
