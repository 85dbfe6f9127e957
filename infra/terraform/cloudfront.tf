# The CDN in front of the live origin. Viewer URLs are /b/<node>/live/<stage>/…
# (and /b/<node>/watch/ for the pages): the live edge routes them to the node
# that owns the stage; when it fails (5xx, or 404 once a node is gone) the
# origin group retries the same path on the bucket, which holds the same keys.

locals {
  live_origin_id  = "live-edge"
  store_origin_id = "media-bucket"
  group_id        = "live-then-store"
}

resource "aws_cloudfront_origin_access_control" "media" {
  name                              = "${var.bucket_name}-oac"
  description                       = "CloudFront reads ${var.bucket_name}"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

# The origin's Cache-Control decides every TTL (packager/naming.ts), as in the
# nginx files operators get (infra/nginx): min_ttl 0 and a max_ttl above the
# longest max-age the origin sends, so CloudFront neither keeps an answer
# longer nor shorter than it says; default_ttl applies only to an answer
# without one. test/infra/cdnConfig.test.ts compares the two.

# LL-HLS media playlists: a blocking reload (_HLS_msn, _HLS_part, _HLS_skip)
# names one version of the playlist, so those are the key; the origin says
# max-age=1 without directives, 6 with them, 3600 once the broadcast ended.
resource "aws_cloudfront_cache_policy" "ll_playlist" {
  name        = "stagecast-ll-playlist"
  comment     = "LL-HLS media playlists: as the origin says, keyed by the delivery directives"
  min_ttl     = 0
  default_ttl = 1
  max_ttl     = 3600
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    query_strings_config {
      query_string_behavior = "whitelist"
      query_strings {
        items = ["_HLS_msn", "_HLS_part", "_HLS_skip"]
      }
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

# Multivariant playlist, the DASH MPD and a stage's stable link (a redirect):
# short-lived while live (origin: max-age=2 / 1 / 1), 10 s for a stable link
# between broadcasts, an hour once ended.
resource "aws_cloudfront_cache_policy" "manifest" {
  name        = "stagecast-manifest"
  comment     = "Multivariant playlist, MPD, stable link: as the origin says"
  min_ttl     = 0
  default_ttl = 2
  max_ttl     = 3600
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    query_strings_config {
      query_string_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

# Segments, parts and init segments never change once written: 14 days.
resource "aws_cloudfront_cache_policy" "media" {
  name        = "stagecast-media"
  comment     = "CMAF segments, parts, init segments: immutable"
  min_ttl     = 0
  default_ttl = 1209600
  max_ttl     = 1209600
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = false
    enable_accept_encoding_brotli = false
    query_strings_config {
      query_string_behavior = "none"
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

# Viewer pages: a minute.
resource "aws_cloudfront_cache_policy" "pages" {
  name        = "stagecast-pages"
  comment     = "Viewer pages (/b/<node>/watch/)"
  min_ttl     = 0
  default_ttl = 60
  max_ttl     = 300
  parameters_in_cache_key_and_forwarded_to_origin {
    enable_accept_encoding_gzip   = true
    enable_accept_encoding_brotli = true
    query_strings_config {
      query_string_behavior = "all"
    }
    headers_config {
      header_behavior = "none"
    }
    cookies_config {
      cookie_behavior = "none"
    }
  }
}

resource "aws_cloudfront_distribution" "live" {
  enabled         = true
  is_ipv6_enabled = true
  comment         = "stagecast live: edge origin with the media bucket as failover"
  price_class     = var.price_class
  http_version    = "http2and3"

  origin {
    origin_id   = local.live_origin_id
    domain_name = var.live_origin_domain
    custom_origin_config {
      http_port                = 80
      https_port               = 443
      origin_protocol_policy   = var.live_origin_https ? "https-only" : "http-only"
      origin_ssl_protocols     = ["TLSv1.2"]
      origin_read_timeout      = 30
      origin_keepalive_timeout = 60
    }
  }

  origin {
    origin_id                = local.store_origin_id
    domain_name              = aws_s3_bucket.media.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.media.id
  }

  origin_group {
    origin_id = local.group_id
    failover_criteria {
      status_codes = [403, 404, 500, 502, 503, 504]
    }
    member {
      origin_id = local.live_origin_id
    }
    member {
      origin_id = local.store_origin_id
    }
  }

  # Order matters: the first matching pattern wins.
  ordered_cache_behavior {
    path_pattern           = "/b/*/master.m3u8"
    target_origin_id       = local.group_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = aws_cloudfront_cache_policy.manifest.id
  }

  ordered_cache_behavior {
    path_pattern           = "/b/*.m3u8"
    target_origin_id       = local.group_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = aws_cloudfront_cache_policy.ll_playlist.id
  }

  ordered_cache_behavior {
    path_pattern           = "/b/*.mpd"
    target_origin_id       = local.group_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = aws_cloudfront_cache_policy.manifest.id
  }

  ordered_cache_behavior {
    path_pattern           = "/b/*.m4s"
    target_origin_id       = local.group_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = false
    cache_policy_id        = aws_cloudfront_cache_policy.media.id
  }

  ordered_cache_behavior {
    path_pattern           = "/b/*.mp4"
    target_origin_id       = local.group_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD", "OPTIONS"]
    cached_methods         = ["GET", "HEAD"]
    compress               = false
    cache_policy_id        = aws_cloudfront_cache_policy.media.id
  }

  ordered_cache_behavior {
    path_pattern           = "/b/*/watch/*"
    target_origin_id       = local.live_origin_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    compress               = true
    cache_policy_id        = aws_cloudfront_cache_policy.pages.id
  }

  # Anything else (including /internal/, which the edge answers 404) is not cached.
  default_cache_behavior {
    target_origin_id       = local.live_origin_id
    viewer_protocol_policy = "redirect-to-https"
    allowed_methods        = ["GET", "HEAD"]
    cached_methods         = ["GET", "HEAD"]
    cache_policy_id        = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad" # Managed-CachingDisabled
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = true
  }
}
