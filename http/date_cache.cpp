#include "coil/http/date_cache.hpp"

#include <time.h>

namespace coil::http {

namespace {
constexpr char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

char* put2(char* p, int v) noexcept {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
    return p + 2;
}
char* put3(char* p, const char* s) noexcept {
    p[0] = s[0];
    p[1] = s[1];
    p[2] = s[2];
    return p + 3;
}
}  // namespace

void date_cache::format(std::time_t seconds, char* out) noexcept {
    std::tm t{};
    ::gmtime_r(&seconds, &t);
    char* p = put3(out, day_names[t.tm_wday % 7]);
    *p++ = ',';
    *p++ = ' ';
    p = put2(p, t.tm_mday);
    *p++ = ' ';
    p = put3(p, month_names[t.tm_mon % 12]);
    *p++ = ' ';
    const int year = t.tm_year + 1900;
    p = put2(p, (year / 100) % 100);
    p = put2(p, year % 100);
    *p++ = ' ';
    p = put2(p, t.tm_hour);
    *p++ = ':';
    p = put2(p, t.tm_min);
    *p++ = ':';
    p = put2(p, t.tm_sec);
    p = put3(p, " GM");
    *p = 'T';
}

std::string_view date_cache::now() noexcept {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != second_) {
        second_ = ts.tv_sec;
        format(second_, text_);
    }
    return {text_, length};
}

std::string_view current_date() noexcept {
    thread_local date_cache cache;
    return cache.now();
}

}  // namespace coil::http
