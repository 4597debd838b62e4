pub mod jsonscan;
