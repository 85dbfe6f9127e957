variable "region" {
  description = "AWS region of the bucket."
  type        = string
  default     = "eu-west-1"
}

variable "bucket_name" {
  description = "S3 bucket for segments, playlists, DVR and VOD (STAGECAST_S3_BUCKET)."
  type        = string
}

variable "live_origin_domain" {
  description = "Host name of the live origin: the edge Service (infra/k8s/edge.yaml) that routes /b/<node>/ to broadcast nodes."
  type        = string
}

variable "live_origin_https" {
  description = "Whether the live origin speaks HTTPS (http-only for a plain LoadBalancer)."
  type        = bool
  default     = true
}

variable "cors_allowed_origins" {
  description = "Web origins whose players may fetch media from the bucket directly."
  type        = list(string)
  default     = ["*"]
}

variable "vod_retention_days" {
  description = "Days recordings (segments, playlists; DVR and VOD) are kept; more than infrequent_access_after_days."
  type        = number
  default     = 90
}

variable "infrequent_access_after_days" {
  description = "Days after which recordings move to STANDARD_IA (at least 30)."
  type        = number
  default     = 30
}

variable "price_class" {
  description = "CloudFront price class."
  type        = string
  default     = "PriceClass_100"
}
