// Adapts Debian's libsrtp 2.x to the libsrtp 3.x API that mediasoup >= 3.16 calls.
// libsrtp 3 protects from a const input into a separate output buffer with size_t
// lengths; libsrtp 2 works in place with int lengths. Only the calls the worker
// makes are adapted; everything else is libsrtp 2's own API, unchanged.
#ifndef MS_SRTP3_COMPAT_H
#define MS_SRTP3_COMPAT_H

#include <srtp2/srtp.h>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>

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
} // namespace ms_srtp3_compat

#define srtp_protect ms_srtp3_compat::protect
#define srtp_unprotect ms_srtp3_compat::unprotect
#define srtp_protect_rtcp ms_srtp3_compat::protect_rtcp
#define srtp_unprotect_rtcp ms_srtp3_compat::unprotect_rtcp
#define srtp_stream_remove ms_srtp3_compat::stream_remove

#endif
