/* Cross-domain wire structures (little-endian) and the subset of the virtio-gpu kernel
 * UAPI that crossway uses. Carried here rather than taken from libdrm, whose packaged
 * virtgpu header may predate blobs, context init and ring indices. Shared with the test
 * double in tests/, which must see exactly the layouts the kernel and host see. */
#ifndef CW_VIRTGPU_XD_WIRE_H
#define CW_VIRTGPU_XD_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define CW_XD_CAPSET_ID 5u
#define CW_XD_MAX_IDS 28u     /* per SEND/RECEIVE; 4 on hosts before 2024 */
#define CW_XD_MAX_IDS_OLD 4u

enum cw_xd_cmd {
	CW_XD_CMD_INIT = 1,
	CW_XD_CMD_GET_IMAGE_REQS = 2,
	CW_XD_CMD_POLL = 3,
	CW_XD_CMD_SEND = 4,
	CW_XD_CMD_RECEIVE = 5,
	CW_XD_CMD_READ = 6,
	CW_XD_CMD_WRITE = 7,
};

enum cw_xd_id_type {
	CW_XD_ID_BLOB = 1,
	CW_XD_ID_SYNC = 2,
	CW_XD_ID_READ_PIPE = 3,
	CW_XD_ID_WRITE_PIPE = 4,
};

#define CW_XD_RING_QUERY 0u
#define CW_XD_RING_CHANNEL 1u
#define CW_XD_CHANNEL_WAYLAND 1u
#define CW_XD_READ_PIPE_BASE 0x80000000u
#define CW_XD_EVENT_FENCE 0x90000000u
#define CW_XD_PAGE_BYTES 4096u
#define CW_XD_SEND_MAX_DATA (CW_XD_PAGE_BYTES - 352u)  /* 3744: one page per SEND */
#define CW_XD_WRITE_MAX_DATA (CW_XD_PAGE_BYTES - 24u)  /* 4072: one page per WRITE */

struct cw_xd_hdr {
	uint8_t cmd;
	uint8_t ring_idx;  /* ignored by the host; 0 */
	uint16_t cmd_size; /* whole command; 0 in host replies */
	uint32_t pad;
};

struct cw_xd_caps {
	uint32_t version, supported_channels, supports_dmabuf, supports_ext_gpu_mem;
};

struct cw_xd_init_v1 { /* the form crossway sends (20 bytes) */
	struct cw_xd_hdr hdr;
	uint32_t query_ring_res, channel_ring_res, channel_type;
};

struct cw_xd_image_query {
	struct cw_xd_hdr hdr;
	uint32_t width, height, drm_format, flags;
};

struct cw_xd_image_reqs {
	uint32_t strides[4], offsets[4];
	uint64_t modifier, size;
	uint32_t blob_id, map_info;
	int32_t memory_idx, physical_device_idx;
};

struct cw_xd_poll {
	struct cw_xd_hdr hdr;
	uint64_t pad;
};

struct cw_xd_send_recv { /* followed by opaque_data_size bytes */
	struct cw_xd_hdr hdr;
	uint32_t num_ids, opaque_data_size;
	uint32_t ids[CW_XD_MAX_IDS], id_types[CW_XD_MAX_IDS], id_sizes[CW_XD_MAX_IDS];
};

struct cw_xd_read_write { /* followed by opaque_data_size bytes */
	struct cw_xd_hdr hdr;
	uint32_t id, hang_up, opaque_data_size, pad;
};

_Static_assert(sizeof(struct cw_xd_hdr) == 8, "hdr");
_Static_assert(sizeof(struct cw_xd_caps) == 16, "caps");
_Static_assert(sizeof(struct cw_xd_init_v1) == 20, "init");
_Static_assert(sizeof(struct cw_xd_image_query) == 24, "query");
_Static_assert(sizeof(struct cw_xd_image_reqs) == 64, "reqs");
_Static_assert(offsetof(struct cw_xd_image_reqs, size) == 40, "reqs.size");
_Static_assert(offsetof(struct cw_xd_image_reqs, blob_id) == 48, "reqs.blob_id");
_Static_assert(sizeof(struct cw_xd_poll) == 16, "poll");
_Static_assert(sizeof(struct cw_xd_send_recv) == 352, "send/recv");
_Static_assert(offsetof(struct cw_xd_send_recv, id_types) == 128, "types");
_Static_assert(offsetof(struct cw_xd_send_recv, id_sizes) == 240, "sizes");
_Static_assert(sizeof(struct cw_xd_read_write) == 24, "read/write");

/* Kernel UAPI subset (virtgpu). Identical to the upstream layouts. */
#define CW_VIRTGPU_PARAM_3D_FEATURES 1
#define CW_VIRTGPU_PARAM_CAPSET_QUERY_FIX 2
#define CW_VIRTGPU_PARAM_RESOURCE_BLOB 3
#define CW_VIRTGPU_PARAM_HOST_VISIBLE 4
#define CW_VIRTGPU_PARAM_CROSS_DEVICE 5
#define CW_VIRTGPU_PARAM_CONTEXT_INIT 6
#define CW_VIRTGPU_PARAM_SUPPORTED_CAPSET_IDS 7

#define CW_VIRTGPU_CONTEXT_PARAM_CAPSET_ID 1
#define CW_VIRTGPU_CONTEXT_PARAM_NUM_RINGS 2
#define CW_VIRTGPU_CONTEXT_PARAM_POLL_RINGS_MASK 3

#define CW_VIRTGPU_EXECBUF_FENCE_FD_IN 0x01
#define CW_VIRTGPU_EXECBUF_FENCE_FD_OUT 0x02
#define CW_VIRTGPU_EXECBUF_RING_IDX 0x04

#define CW_VIRTGPU_BLOB_MEM_GUEST 0x0001
#define CW_VIRTGPU_BLOB_MEM_HOST3D 0x0002
#define CW_VIRTGPU_BLOB_MEM_HOST3D_GUEST 0x0003
#define CW_VIRTGPU_BLOB_FLAG_USE_MAPPABLE 0x0001
#define CW_VIRTGPU_BLOB_FLAG_USE_SHAREABLE 0x0002
#define CW_VIRTGPU_BLOB_FLAG_USE_CROSS_DEVICE 0x0004
#define CW_VIRTGPU_WAIT_NOWAIT 1

struct cw_virtgpu_getparam {
	uint64_t param;
	uint64_t value; /* pointer to an int the kernel fills */
};

struct cw_virtgpu_get_caps {
	uint32_t cap_set_id, cap_set_ver;
	uint64_t addr;
	uint32_t size, pad;
};

struct cw_virtgpu_context_set_param {
	uint64_t param, value;
};

struct cw_virtgpu_context_init {
	uint32_t num_params, pad;
	uint64_t ctx_set_params; /* pointer to cw_virtgpu_context_set_param[] */
};

struct cw_virtgpu_execbuffer {
	uint32_t flags, size;
	uint64_t command, bo_handles;
	uint32_t num_bo_handles;
	int32_t fence_fd;
	uint32_t ring_idx, syncobj_stride, num_in_syncobjs, num_out_syncobjs;
	uint64_t in_syncobjs, out_syncobjs;
};

struct cw_virtgpu_create_blob {
	uint32_t blob_mem, blob_flags, bo_handle, res_handle;
	uint64_t size;
	uint32_t pad, cmd_size;
	uint64_t cmd, blob_id;
};

struct cw_virtgpu_map {
	uint64_t offset;
	uint32_t handle, pad;
};

struct cw_virtgpu_resource_info {
	uint32_t bo_handle, res_handle, size, blob_mem;
};

struct cw_virtgpu_wait {
	uint32_t handle, flags;
};

struct cw_drm_gem_close {
	uint32_t handle, pad;
};

struct cw_drm_prime_handle {
	uint32_t handle, flags;
	int32_t fd;
};

struct cw_drm_event {
	uint32_t type, length;
};

_Static_assert(sizeof(struct cw_virtgpu_getparam) == 16, "getparam");
_Static_assert(sizeof(struct cw_virtgpu_get_caps) == 24, "get_caps");
_Static_assert(sizeof(struct cw_virtgpu_context_init) == 16, "context_init");
_Static_assert(sizeof(struct cw_virtgpu_execbuffer) == 64, "execbuffer");
_Static_assert(offsetof(struct cw_virtgpu_execbuffer, ring_idx) == 32, "ring_idx");
_Static_assert(sizeof(struct cw_virtgpu_create_blob) == 48, "create_blob");
_Static_assert(offsetof(struct cw_virtgpu_create_blob, blob_id) == 40, "blob_id");
_Static_assert(sizeof(struct cw_virtgpu_map) == 16, "map");
_Static_assert(sizeof(struct cw_virtgpu_resource_info) == 16, "resource_info");
_Static_assert(sizeof(struct cw_drm_prime_handle) == 12, "prime");

/* Request numbers (LP64), section 4.1 of the cross-domain spec. */
#define CW_IOCTL_DRM_VERSION 0xC0406400u
#define CW_IOCTL_GEM_CLOSE 0x40086409u
#define CW_IOCTL_PRIME_HANDLE_TO_FD 0xC00C642Du
#define CW_IOCTL_PRIME_FD_TO_HANDLE 0xC00C642Eu
#define CW_IOCTL_VIRTGPU_MAP 0xC0106441u
#define CW_IOCTL_VIRTGPU_EXECBUFFER 0xC0406442u
#define CW_IOCTL_VIRTGPU_GETPARAM 0xC0106443u
#define CW_IOCTL_VIRTGPU_RESOURCE_INFO 0xC0106445u
#define CW_IOCTL_VIRTGPU_WAIT 0xC0086448u
#define CW_IOCTL_VIRTGPU_GET_CAPS 0xC0186449u
#define CW_IOCTL_VIRTGPU_CREATE_BLOB 0xC030644Au
#define CW_IOCTL_VIRTGPU_CONTEXT_INIT 0xC010644Bu

#endif
