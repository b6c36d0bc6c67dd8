/*
 * libFuzzer harness for the VICI decoder (src/realize/vici.c); built and run by `make fuzz`
 * (docs/fuzz.md).
 * The input is one packet (the bytes after the length field). Whatever decodes must encode back
 * to exactly the same message bytes, and print without failing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "realize/vici.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vici_packet p;
	struct vici_msg *m = NULL;
	struct buf b;

	/* the whole input as a bare message */
	if (vici_decode(data, size, &m, NULL) == VPN_OK) {
		buf_init(&b, VICI_MAX_PACKET);
		if (vici_encode(m, &b) != VPN_OK || b.len != size ||
		    (size && memcmp(b.p, data, size)))
			abort();
		buf_reset(&b);
		if (vici_msg_print(m, &b) != VPN_OK)
			abort();
		buf_release(&b);
		vici_msg_free(m);
	}
	/* and as a packet */
	if (vici_decode_packet(data, size, &p, NULL) == VPN_OK) {
		(void)vici_get(p.msg, "a.b.c");
		vici_packet_release(&p);
	}
	return 0;
}
