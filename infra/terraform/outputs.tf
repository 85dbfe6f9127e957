output "cdn_base_url" {
  description = "STAGECAST_CDN_BASE_URL for the SFUs: viewer links become <this>/b/<node>/watch/?broadcast=<stage>."
  value       = "https://${aws_cloudfront_distribution.live.domain_name}"
}

output "bucket" {
  description = "STAGECAST_S3_BUCKET."
  value       = aws_s3_bucket.media.id
}
