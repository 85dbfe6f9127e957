// Adapts Debian's libsrtp 2.x to the libsrtp 3.x API that the mediasoup worker
// calls. No Debian release ships libsrtp 3 (sid has 2.8.0), so this is the only
// way to build the worker against Debian's SRTP.
// - libsrtp 3 protects from a const input into a separate output buffer with
//   size_t lengths; libsrtp 2 works in place with int lengths.
// - libsrtp 3 (mediasoup >= 3.26) builds a session from an opaque policy object
//   set up by srtp_policy_*() calls; libsrtp 2 takes a plain struct. The opaque
//   object here owns a libsrtp 2 policy and the key it points at.
// Only the calls the worker makes are adapted; everything else is libsrtp 2's own
// API, unchanged. The crypto itself is libsrtp 2's.
#ifndef MS_SRTP3_COMPAT_H
#define MS_SRTP3_COMPAT_H

#include <srtp2/srtp.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

// Status codes libsrtp 3 added; libsrtp 2 never returns them.
static constexpr srtp_err_status_t srtp_err_status_buffer_small = static_cast<srtp_err_status_t>(28);
static constexpr srtp_err_status_t srtp_err_status_cryptex_err  = static_cast<srtp_err_status_t>(29);

namespace ms_srtp3_compat
{
	using ProtectFn   = srtp_err_status_t (*)(srtp_t, void*, int*);
	using UnprotectFn = srtp_err_status_t (*)(srtp_t, void*, int*);

	inline srtp_err_status_t Protect(
	  ProtectFn fn,
	  size_t trailer,
	  srtp_t ctx,
	  const uint8_t* in,
	  size_t inLen,
	  uint8_t* out,
	  size_t* outLen)
	{
		if (inLen > static_cast<size_t>(INT_MAX - trailer))
			return srtp_err_status_bad_param;
		if (*outLen < inLen + trailer)
			return srtp_err_status_buffer_small;
		if (out != in)
			std::memmove(out, in, inLen);
		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);
		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);
		return err;
	}

	inline srtp_err_status_t Unprotect(
	  UnprotectFn fn, srtp_t ctx, const uint8_t* in, size_t inLen, uint8_t* out, size_t* outLen)
	{
		if (inLen > static_cast<size_t>(INT_MAX))
			return srtp_err_status_bad_param;
		if (*outLen < inLen)
			return srtp_err_status_buffer_small;
		if (out != in)
			std::memmove(out, in, inLen);
		int len = static_cast<int>(inLen);
		const srtp_err_status_t err = fn(ctx, out, &len);
		if (err == srtp_err_status_ok)
			*outLen = static_cast<size_t>(len);
		return err;
	}

	inline srtp_err_status_t protect(
	  srtp_t ctx, const uint8_t* rtp, size_t rtpLen, uint8_t* srtp, size_t* srtpLen, size_t mkiIndex)
	{
		if (mkiIndex != 0)
			return srtp_err_status_bad_mki;
		return Protect(::srtp_protect, SRTP_MAX_TRAILER_LEN, ctx, rtp, rtpLen, srtp, srtpLen);
	}

	inline srtp_err_status_t unprotect(
	  srtp_t ctx, const uint8_t* srtp, size_t srtpLen, uint8_t* rtp, size_t* rtpLen)
	{
		return Unprotect(::srtp_unprotect, ctx, srtp, srtpLen, rtp, rtpLen);
	}

	inline srtp_err_status_t protect_rtcp(
	  srtp_t ctx, const uint8_t* rtcp, size_t rtcpLen, uint8_t* srtcp, size_t* srtcpLen, size_t mkiIndex)
	{
		if (mkiIndex != 0)
			return srtp_err_status_bad_mki;
		// SRTCP writes 4 bytes more than SRTP (E flag and index), per srtp2/srtp.h.
		return Protect(
		  ::srtp_protect_rtcp, SRTP_MAX_TRAILER_LEN + 4, ctx, rtcp, rtcpLen, srtcp, srtcpLen);
	}

	inline srtp_err_status_t unprotect_rtcp(
	  srtp_t ctx, const uint8_t* srtcp, size_t srtcpLen, uint8_t* rtcp, size_t* rtcpLen)
	{
		return Unprotect(::srtp_unprotect_rtcp, ctx, srtcp, srtcpLen, rtcp, rtcpLen);
	}

	inline srtp_err_status_t stream_remove(srtp_t ctx, uint32_t ssrc)
	{
		return ::srtp_remove_stream(ctx, ssrc);
	}

	// libsrtp 3's opaque policy: a libsrtp 2 policy plus the master key and salt,
	// concatenated as libsrtp 2 expects them.
	struct Policy
	{
		::srtp_policy_t v2{};
		uint8_t key[SRTP_MAX_KEY_LEN]{};
		bool hasProfile{ false };
	};
	using PolicyHandle = Policy*;

	inline srtp_err_status_t policy_create(PolicyHandle* policy)
	{
		if (policy == nullptr)
			return srtp_err_status_bad_param;
		*policy = new (std::nothrow) Policy();
		return *policy != nullptr ? srtp_err_status_ok : srtp_err_status_alloc_fail;
	}

	inline void policy_destroy(PolicyHandle policy)
	{
		delete policy;
	}

	inline srtp_err_status_t policy_set_ssrc(PolicyHandle policy, srtp_ssrc_t ssrc)
	{
		if (policy == nullptr)
			return srtp_err_status_bad_param;
		policy->v2.ssrc = ssrc;
		return srtp_err_status_ok;
	}

	inline srtp_err_status_t policy_set_profile(PolicyHandle policy, srtp_profile_t profile)
	{
		if (policy == nullptr)
			return srtp_err_status_bad_param;
		srtp_err_status_t err =
		  ::srtp_crypto_policy_set_from_profile_for_rtp(&policy->v2.rtp, profile);
		if (err == srtp_err_status_ok)
			err = ::srtp_crypto_policy_set_from_profile_for_rtcp(&policy->v2.rtcp, profile);
		policy->hasProfile = err == srtp_err_status_ok;
		return err;
	}

	inline srtp_err_status_t policy_add_key(
	  PolicyHandle policy,
	  const uint8_t* key,
	  size_t keyLen,
	  const uint8_t* salt,
	  size_t saltLen,
	  const uint8_t* mki,
	  size_t mkiLen)
	{
		if (policy == nullptr || key == nullptr || salt == nullptr)
			return srtp_err_status_bad_param;
		// One key per session, without MKI: all the worker uses.
		if (mki != nullptr || mkiLen != 0 || policy->v2.key != nullptr)
			return srtp_err_status_bad_mki;
		if (keyLen + saltLen > sizeof(policy->key))
			return srtp_err_status_bad_param;
		std::memcpy(policy->key, key, keyLen);
		std::memcpy(policy->key + keyLen, salt, saltLen);
		policy->v2.key = policy->key;
		return srtp_err_status_ok;
	}

	inline srtp_err_status_t policy_set_allow_repeat_tx(PolicyHandle policy, bool allow)
	{
		if (policy == nullptr)
			return srtp_err_status_bad_param;
		policy->v2.allow_repeat_tx = allow ? 1 : 0;
		return srtp_err_status_ok;
	}

	inline srtp_err_status_t policy_set_window_size(PolicyHandle policy, size_t windowSize)
	{
		if (policy == nullptr || windowSize > UINT32_MAX)
			return srtp_err_status_bad_param;
		policy->v2.window_size = static_cast<unsigned long>(windowSize);
		return srtp_err_status_ok;
	}

	inline srtp_err_status_t create(srtp_t* session, const Policy* policy)
	{
		if (policy == nullptr || !policy->hasProfile || policy->v2.key == nullptr)
			return srtp_err_status_bad_param;
		return ::srtp_create(session, &policy->v2);
	}
} // namespace ms_srtp3_compat

#define srtp_policy_t ms_srtp3_compat::PolicyHandle
#define srtp_policy_create ms_srtp3_compat::policy_create
#define srtp_policy_destroy ms_srtp3_compat::policy_destroy
#define srtp_policy_set_ssrc ms_srtp3_compat::policy_set_ssrc
#define srtp_policy_set_profile ms_srtp3_compat::policy_set_profile
#define srtp_policy_add_key ms_srtp3_compat::policy_add_key
#define srtp_policy_set_allow_repeat_tx ms_srtp3_compat::policy_set_allow_repeat_tx
#define srtp_policy_set_window_size ms_srtp3_compat::policy_set_window_size
#define srtp_create ms_srtp3_compat::create

#define srtp_protect ms_srtp3_compat::protect
#define srtp_unprotect ms_srtp3_compat::unprotect
#define srtp_protect_rtcp ms_srtp3_compat::protect_rtcp
#define srtp_unprotect_rtcp ms_srtp3_compat::unprotect_rtcp
#define srtp_stream_remove ms_srtp3_compat::stream_remove

#endif
