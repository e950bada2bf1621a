/*
 * fuzz_ami.c — fuzz target for the AMI packet parser and its mapping: the input is fed in
 * pieces whose sizes come from the input's first byte (partial reads), every complete
 * packet is mapped to events.
 */
#include <stdint.h>
#include <string.h>

#include "intake/intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ami_parser p;
    struct ami_packet pk;
    struct pbx_map *m;
    json_t *evs;
    size_t step, at = 1;

    if (size == 0)
        return 0;
    step = (size_t)(data[0] % 31) + 1;
    m = pbx_map_new("asterisk", NULL, NULL);
    evs = json_array();
    ami_parser_init(&p);
    while (at < size) {
        size_t n = size - at < step ? size - at : step;

        ami_parser_feed(&p, (const char *)data + at, n);
        at += n;
        while (ami_parser_next(&p, &pk)) {
            pbx_map_ami(m, &pk, 1717392000000, evs);
            if (json_array_size(evs) > 1000)
                json_array_clear(evs);
        }
    }
    ami_parser_free(&p);
    json_decref(evs);
    pbx_map_free(m);
    return 0;
}
