// Seed 004: calling an external service, verbatim. The formula asks for the
// weather; the result arrives as a logged input and the formula re-evaluates
// (spec/language.md 4.27; the endpoint is configured outside: services.toml).

service weather {
class WeatherRequest {
string city;
}
class WeatherResponse {
double temperature;
}
method<WeatherRequest, WeatherResponse> get;
}
public formula current_weather =
weather.get(@no_cache, {city: "NYC"});
