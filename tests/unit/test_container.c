/*
 * Unit tests for the container-id parser (recorder/container.c): every cgroup path form it
 * knows (Docker with the systemd and cgroupfs drivers, containerd, CRI-O, Podman, Kubernetes
 * with both drivers), the innermost id winning, and paths that name no container.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "../../recorder/container.h"

#define ID1 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
#define UID "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9"
#define UID_ "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9"

/* Parse path and compare all three fields ("" for NULL columns) and the return value. */
static void expect(const char *path, int ret, const char *id, const char *runtime, const char *pod)
{
	struct fr_container c;

	memset(&c, 0x55, sizeof(c));
	assert_int_equal(fr_container_parse(path, &c), ret);
	assert_string_equal(c.id, id);
	assert_string_equal(c.runtime, runtime);
	assert_string_equal(c.pod_uid, pod);
}

static void docker(void **state)
{
	(void)state;
	expect("/system.slice/docker-" ID1 ".scope", 1, ID1, "docker", "");
	expect("/docker/" ID1, 1, ID1, "docker", "");
	/* docker in docker (cgroupfs): the innermost */
	expect("/docker/" ID1 "/docker/" ID2, 1, ID2, "docker", "");
	/* a systemd container's own units below its scope */
	expect("/system.slice/docker-" ID1 ".scope/init.scope", 1, ID1, "docker", "");
}

static void containerd_crio_podman(void **state)
{
	(void)state;
	expect("/system.slice/cri-containerd-" ID1 ".scope", 1, ID1, "containerd", "");
	expect("/system.slice/crio-" ID2 ".scope", 1, ID2, "cri-o", "");
	expect("/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID1 ".scope", 1,
	       ID1, "podman", "");
	expect("/machine.slice/libpod-" ID2 ".scope/container", 1, ID2, "podman", "");
	expect("/libpod_parent/libpod-" ID1, 1, ID1, "podman", "");
	expect("/libpod_parent/libpod-" ID1 ".scope", 1, ID1, "podman", "");
	/* conmon, the monitor next to the container, is not in it */
	expect("/machine.slice/libpod-conmon-" ID1 ".scope", 0, "", "", "");
	expect("/system.slice/crio-conmon-" ID1 ".scope", 0, "", "", "");
}

static void kubernetes(void **state)
{
	(void)state;
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_
	       ".slice/cri-containerd-" ID1 ".scope", 1, ID1, "containerd", UID);
	expect("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_
	       ".slice/crio-" ID2 ".scope", 1, ID2, "cri-o", UID);
	expect("/kubepods.slice/kubepods-pod" UID_ ".slice/docker-" ID1 ".scope", 1, ID1, "docker",
	       UID);
	/* the pod's own slice: a pod, no container */
	expect("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice", 1,
	       "", "", UID);
	/* cgroupfs: the path does not name the runtime */
	expect("/kubepods/burstable/pod" UID "/" ID1, 1, ID1, "", UID);
	expect("/kubepods/besteffort/pod" UID "/" ID2, 1, ID2, "", UID);
	expect("/kubepods/pod" UID "/" ID1, 1, ID1, "", UID);
	expect("/kubepods/burstable/pod" UID, 1, "", "", UID);
	expect("/kubepods.slice/kubepods-burstable.slice", 0, "", "", "");
}

static void not_containers(void **state)
{
	(void)state;
	expect("/", 0, "", "", "");
	expect("", 0, "", "", "");
	expect(NULL, 0, "", "", "");
	expect("/user.slice", 0, "", "", "");
	expect("/user.slice/user-1000.slice/session-2.scope", 0, "", "", "");
	expect("/system.slice/ssh.service", 0, "", "", "");
	expect("/system.slice/docker.service", 0, "", "", "");
	/* not 64 lower-case hex digits */
	expect("/system.slice/docker-0123abcd.scope", 0, "", "", "");
	expect("/system.slice/docker-" ID1 "0.scope", 0, "", "", "");
	expect("/system.slice/docker-0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef.scope",
	       0, "", "", "");
	/* a bare id only counts under docker/ or a pod */
	expect("/somewhere/" ID1, 0, "", "", "");
	/* a pod<...> directory outside kubepods */
	expect("/pod" UID "/" ID1, 0, "", "", "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(docker),
		cmocka_unit_test(containerd_crio_podman),
		cmocka_unit_test(kubernetes),
		cmocka_unit_test(not_containers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
