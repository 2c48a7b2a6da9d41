#include "amp.h"

#define MS(x) ((int64_t)(x)*1000000)

void amp_init(struct amp *a, unsigned warmup_ms, double idle_off_s)
{
	*a = (struct amp){
	    .warmup_ms = warmup_ms,
	    .idle_off_s = idle_off_s,
	    .off_ns = AMP_NEVER,
	};
}

int64_t amp_want(struct amp *a, int64_t now_ns)
{
	a->off_ns = AMP_NEVER;
	if (!a->on) {
		a->on = true;
		a->ready_ns = now_ns + MS(a->warmup_ms);
	}
	return a->ready_ns > now_ns ? a->ready_ns : now_ns;
}

void amp_idle(struct amp *a, int64_t now_ns)
{
	if (a->on && a->idle_off_s > 0)
		a->off_ns = now_ns + (int64_t)(a->idle_off_s * 1e9);
}

int64_t amp_deadline(const struct amp *a)
{
	return a->off_ns;
}

void amp_timer(struct amp *a, int64_t now_ns)
{
	if (now_ns >= a->off_ns) {
		a->on = false;
		a->off_ns = AMP_NEVER;
	}
}
