#pragma once
// Every Takeoff request type (sans-io): include this to use them all.

#include <takeoff/api/base_url.hpp>
#include <takeoff/api/chat_message.hpp>
#include <takeoff/api/classify.hpp>
#include <takeoff/api/embed.hpp>
#include <takeoff/api/generate.hpp>
#include <takeoff/api/ids.hpp>
#include <takeoff/api/management.hpp>
#include <takeoff/api/nothing.hpp>
#include <takeoff/api/openai.hpp>
#include <takeoff/api/request.hpp>
#include <takeoff/api/sampling.hpp>
#include <takeoff/api/status.hpp>
#include <takeoff/api/tokenize.hpp>
#include <takeoff/api/validate.hpp>
