/*
 * actor.h: the umbrella header of libactor, a virtual actor framework for C.
 * Include this one header; provider authors also include <actor/sys/provider.h>.
 */
#ifndef ACTOR_ACTOR_H
#define ACTOR_ACTOR_H

#include "common.h"
#include "errors.h"
#include "buffer.h"
#include "type.h"
#include "host.h"
#include "invoke.h"
#include "state.h"
#include "json.h"

#endif
