//! A JSON body extractor whose rejections are `ApiError`s with stable codes.

use axum::extract::FromRequest;

use crate::error::ApiError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);
