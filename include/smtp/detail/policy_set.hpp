// smtp/detail/policy_set.hpp
//
// Finding a policy by its category among the ones a user named, in any
// order (Boost.SML's way), with Boost.Hana. Nothing of Hana leaves this file:
// the public side sees find_policy_t and the two booleans below.
#ifndef SMTP_DETAIL_POLICY_SET_HPP
#define SMTP_DETAIL_POLICY_SET_HPP

#include <smtp/version.hpp>

#include <boost/hana/count_if.hpp>
#include <boost/hana/find_if.hpp>
#include <boost/hana/optional.hpp>
#include <boost/hana/tuple.hpp>
#include <boost/hana/type.hpp>

#include <type_traits>

SMTP_NAMESPACE_BEGIN
namespace detail {

template <class Category>
struct has_category {
    template <class T>
    constexpr auto operator()(T) const
    {
        using P = typename T::type;
        // A type with no category is no policy: policies<> says so, naming
        // it (checked_policy); here it is only not of this kind.
        if constexpr (requires { typename P::policy_category; })
            return boost::hana::bool_c<std::is_same_v<typename P::policy_category, Category>>;
        else
            return boost::hana::false_c;
    }
};

/// How many of Ps... are of Category.
template <class Category, class... Ps>
inline constexpr std::size_t count_category =
    decltype(boost::hana::count_if(boost::hana::tuple_t<Ps...>, has_category<Category>{}))::value;

/// The policy of Category among Ps..., or Default.
template <class Category, class Default, class... Ps>
struct find_policy {
    static constexpr auto pick()
    {
        constexpr auto found = boost::hana::find_if(boost::hana::tuple_t<Ps...>, has_category<Category>{});
        if constexpr (decltype(boost::hana::is_just(found))::value)
            return found.value();
        else
            return boost::hana::type_c<Default>;
    }
    using type = typename decltype(pick())::type;
};

template <class Category, class Default, class... Ps>
using find_policy_t = typename find_policy<Category, Default, Ps...>::type;

} // namespace detail
SMTP_NAMESPACE_END

#endif
